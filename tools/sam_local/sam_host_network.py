"""Run SAM CLI so that `--docker-network host` puts function containers on the host's network.

SAM CLI 1.170 accepts `--docker-network host` but leaves every function container on
Docker's default bridge (`samcli/local/docker/container.py` skips connecting a container to
a network named "host"), so a function cannot reach a service on the host's 127.0.0.1 and
would have to use the bridge's private address. This wrapper closes that one gap, only when
`--docker-network host` is given: the container gets `network_mode: host`, and because it
then shares the host's ports, its Runtime Interface Emulator listens on 127.0.0.1 at the
port SAM already picked for it (instead of 0.0.0.0:8080) and serves the Runtime API on a
free loopback port of its own (instead of 127.0.0.1:9001), so containers never collide.

It also makes `--env-vars FILE` add variables, not only override them: SAM CLI passes a
function only the variables its template declares, so `AWS_ENDPOINT_URL_DYNAMODB` (which a
deployment must never set) or `R2_ENDPOINT_URL` could not reach a function otherwise. Every
key of the file's `Parameters` and of the function's own section is set in the container,
the file winning over SAM's values (so the file's fake AWS credentials replace whatever the
shell's profile holds).

Everything else is SAM CLI unchanged. Run it with the tool venv's Python, exactly like `sam`:
    .venv-tools/bin/python tools/sam_local/sam_host_network.py local start-api ...
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

SUPPORTED = ("1.170.",)  # the patched method's shape is checked below, the version here


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def env_vars_file(argv: list[str]) -> Path | None:
    """The `--env-vars`/`-n` argument of a SAM command line, if any."""
    for index, arg in enumerate(argv):
        if arg in ("--env-vars", "-n") and index + 1 < len(argv):
            return Path(argv[index + 1])
        if arg.startswith("--env-vars="):
            return Path(arg.split("=", 1)[1])
    return None


def file_variables(path: Path | None, function: str) -> dict[str, str]:
    if path is None:
        return {}
    data = json.loads(path.read_text())
    merged = {**data.get("Parameters", {}), **data.get(function, {})}
    return {str(key): str(value) for key, value in merged.items()}


def install(argv: list[str]) -> None:
    import samcli
    from samcli.local.docker.container import Container

    if not samcli.__version__.startswith(SUPPORTED):
        raise SystemExit(
            f"sam_host_network: written for SAM CLI {SUPPORTED[0]}x, found {samcli.__version__};"
            " check samcli/local/docker/container.py (Container.create) before using it"
        )
    original = Container.create
    env_file = env_vars_file(argv)

    def create(self: Any, context: Any) -> Any:
        if self.network_id == "host" and not getattr(self, "_host_network_done", False):
            entrypoint = list(self._entrypoint or [])
            if not entrypoint or not entrypoint[0].endswith("aws-lambda-rie"):
                raise RuntimeError(f"unexpected container entrypoint {entrypoint!r}")
            self._entrypoint = [
                *entrypoint,
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.rapid_port_host}",
                "--runtime-api-address",
                f"127.0.0.1:{_free_loopback_port()}",
            ]
            self._container_opts = {**(self._container_opts or {}), "network_mode": "host"}
            self._container_host = "127.0.0.1"
            self._host_network_done = True
            function = (self._labels or {}).get("sam.cli.function.name", "")
            self._env_vars = {**(self._env_vars or {}), **file_variables(env_file, function)}
        return original(self, context)

    Container.create = create  # type: ignore[method-assign]

    # SAM always publishes the emulator's port; Docker refuses port bindings on the host
    # network (the port is the host's own there), so they are dropped for those containers.
    from docker.models.containers import ContainerCollection

    create_container = ContainerCollection.create

    def create_on_host(self: Any, image: Any, command: Any = None, **kwargs: Any) -> Any:
        if kwargs.get("network_mode") == "host":
            kwargs.pop("ports", None)
        return create_container(self, image, command, **kwargs)

    ContainerCollection.create = create_on_host  # type: ignore[method-assign]


def main() -> None:
    install(sys.argv[1:])
    from samcli.cli.main import cli

    sys.argv[0] = "sam"
    sys.exit(cli())


if __name__ == "__main__":
    main()
