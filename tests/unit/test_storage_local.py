"""LocalStorage: atomic writes, typed reads, ETags, and no path escaping the bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from profile_photos.errors import NotFound
from profile_photos.store.storage import check_key
from profile_photos.store.storage.local import LocalStorage

KEY = "users/u1/profile-picture/abc.jpg"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "objects")


def test_put_then_read_returns_bytes_type_size_and_etag(storage: LocalStorage) -> None:
    storage.put("user-assets", KEY, b"\xff\xd8\xffdata", "image/jpeg")

    file = storage.read("user-assets", KEY)

    assert file.body == b"\xff\xd8\xffdata"
    assert file.size == 7
    assert file.content_type == "image/jpeg"
    assert file.etag.startswith('"')
    assert file.etag.endswith('"')
    assert (storage.base_path / "user-assets" / KEY).read_bytes() == b"\xff\xd8\xffdata"


def test_put_leaves_no_temporary_files(storage: LocalStorage) -> None:
    storage.put("user-assets", KEY, b"x", "image/jpeg")

    files = [p.name for p in (storage.base_path / "user-assets").rglob("*") if p.is_file()]

    assert files == ["abc.jpg"]


def test_head_read_has_no_body(storage: LocalStorage) -> None:
    storage.put("user-assets", KEY, b"x" * 10, "image/jpeg")

    file = storage.read("user-assets", KEY, include_body=False)

    assert file.body is None
    assert file.size == 10


@pytest.mark.parametrize("header", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_matching_if_none_match_is_not_modified(storage: LocalStorage, header: str) -> None:
    storage.put("user-assets", KEY, b"x", "image/jpeg")
    etag = storage.read("user-assets", KEY).etag

    file = storage.read("user-assets", KEY, if_none_match=header.format(etag=etag))

    assert file.not_modified
    assert file.body is None


def test_missing_file_and_directory_are_not_found(storage: LocalStorage) -> None:
    storage.put("user-assets", KEY, b"x", "image/jpeg")

    with pytest.raises(NotFound, match="File not found"):
        storage.read("user-assets", "users/u1/profile-picture/missing.jpg")
    with pytest.raises(NotFound):
        storage.read("user-assets", "users/u1/profile-picture")


def test_delete_removes_the_file_and_tolerates_a_missing_one(storage: LocalStorage) -> None:
    storage.put("user-assets", KEY, b"x", "image/jpeg")

    storage.delete("user-assets", KEY)
    storage.delete("user-assets", KEY)

    with pytest.raises(NotFound):
        storage.read("user-assets", KEY)


@pytest.mark.parametrize(
    "key",
    [
        "../secret.jpg",
        "users/../../secret.jpg",
        "users/%2e%2e/%2e%2e/secret.jpg",
        "users/%2E%2E/secret.jpg",
        "..%2fsecret.jpg",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "users\\..\\secret.jpg",
        "users/a\x00.jpg",
        "users/a%00.jpg",
        "users//a.jpg",
        "users/./a.jpg",
        "",
    ],
)
def test_hostile_keys_are_refused_before_any_io(storage: LocalStorage, key: str) -> None:
    (storage.base_path / "secret.jpg").parent.mkdir(parents=True, exist_ok=True)
    (storage.base_path / "secret.jpg").write_bytes(b"secret")

    with pytest.raises(NotFound):
        check_key(key)
    with pytest.raises(NotFound):
        storage.read("user-assets", key)
    with pytest.raises(NotFound):
        storage.put("user-assets", key, b"x", "image/jpeg")
    assert (storage.base_path / "secret.jpg").read_bytes() == b"secret"


def test_symlink_out_of_the_bucket_is_not_followed(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"secret")
    link = storage.base_path / "user-assets" / "users" / "evil.jpg"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)

    with pytest.raises(NotFound):
        storage.read("user-assets", "users/evil.jpg")


def test_unknown_bucket_is_not_found(storage: LocalStorage) -> None:
    with pytest.raises(NotFound):
        storage.read("../user-assets", KEY)
    with pytest.raises(NotFound):
        storage.put("other", KEY, b"x", "image/jpeg")
