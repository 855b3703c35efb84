"""The local stack never listens beyond this machine with a public development secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.defaults import DEV_JWT_SECRET, DEV_STORAGE_SECRET
from devstack.stack import LocalStack, exposure_refusal, is_loopback, public_defaults

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the exposed address under test
OWN_SECRETS = {
    "JWT_SECRET": "a-jwt-secret-of-this-deployment-only-0123",
    "LOCAL_STORAGE_SECRET": "a-storage-secret-of-this-deployment-only-0123",
}


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "::ffff:127.0.0.1", "localhost"]
)
def test_loopback_addresses_and_localhost_are_loopback(host: str) -> None:
    assert is_loopback(host)
    assert is_loopback(host.upper())


@pytest.mark.parametrize(
    "host",
    [
        ALL_INTERFACES,
        "::",
        "192.168.1.20",
        "10.0.0.1",
        "::ffff:10.0.0.1",
        "myhost",  # what tcsh exports as HOST: a name is not resolved, so it counts as exposed
        "localhost.localdomain",
        "127.1",  # inet_aton would read this as 127.0.0.1; not a literal address, so exposed
        "",
    ],
)
def test_any_other_host_counts_as_exposed(host: str) -> None:
    assert not is_loopback(host)


def test_a_secret_is_a_public_default_when_unset_empty_or_set_to_that_value() -> None:
    assert public_defaults({}) == ["JWT_SECRET", "LOCAL_STORAGE_SECRET"]
    assert public_defaults({"JWT_SECRET": "", "LOCAL_STORAGE_SECRET": ""}) == [
        "JWT_SECRET",
        "LOCAL_STORAGE_SECRET",
    ]
    # exported from events/local-env.json, say: still the public value
    assert public_defaults(
        {"JWT_SECRET": DEV_JWT_SECRET, "LOCAL_STORAGE_SECRET": DEV_STORAGE_SECRET}
    ) == ["JWT_SECRET", "LOCAL_STORAGE_SECRET"]
    assert public_defaults({"JWT_SECRET": OWN_SECRETS["JWT_SECRET"]}) == ["LOCAL_STORAGE_SECRET"]
    assert public_defaults(OWN_SECRETS) == []


def test_an_exposed_host_with_default_secrets_is_refused_naming_each_variable() -> None:
    assert exposure_refusal(ALL_INTERFACES, {}) == (
        "refusing to start: HOST=0.0.0.0 exposes the local stack beyond this machine, but"
        " JWT_SECRET and LOCAL_STORAGE_SECRET still have their public development defaults"
        " (devkit/defaults.py: anyone can sign tokens and URLs with them). Set them in the"
        " environment (at least 32 characters each), or use HOST=127.0.0.1."
    )


def test_the_refusal_names_only_the_secret_still_at_its_default() -> None:
    message = exposure_refusal("myhost", {"JWT_SECRET": OWN_SECRETS["JWT_SECRET"]})

    assert message is not None
    assert "HOST=myhost" in message
    assert "LOCAL_STORAGE_SECRET still has its public development default" in message
    assert "JWT_SECRET" not in message


@pytest.mark.parametrize(
    ("host", "environ"),
    [
        ("127.0.0.1", {}),  # the default: loopback, development secrets are fine
        ("localhost", {}),
        ("::1", {}),
        (ALL_INTERFACES, OWN_SECRETS),  # exposed, but with this deployment's own secrets
    ],
)
def test_loopback_or_own_secrets_may_start(host: str, environ: dict[str, str]) -> None:
    assert exposure_refusal(host, environ) is None


def test_start_refuses_before_anything_is_created_or_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stack = LocalStack({"HOST": ALL_INTERFACES, "PORT": "0", "DEV_DATA_DIR": str(data_dir)})

    with pytest.raises(SystemExit) as refused:
        stack.start()

    assert "HOST=0.0.0.0 exposes the local stack" in str(refused.value)
    assert not data_dir.exists()
    assert stack.api is None
    assert stack.pools == {}


def test_an_unset_host_is_loopback(tmp_path: Path) -> None:
    stack = LocalStack({"HOST": "", "DEV_DATA_DIR": str(tmp_path)})

    assert stack.host == "127.0.0.1"
    assert stack.exposure_refusal() is None
