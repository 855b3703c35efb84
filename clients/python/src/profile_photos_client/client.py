"""`ProfilePhotosClient`: uploads that stream and survive flaky networks, cached signed URLs,
and the GraphQL management operations, over one `requests.Session`.

One file: the SDK's single client class and its retry policy, kept together for readers of the
public API.

Uploads. A file up to `multipart_limit` bytes goes as one streamed multipart request
(requests-toolbelt's `MultipartEncoder`: the file is read in chunks as it is sent, never
held in memory). A bigger file, or one the platform refuses with 413, goes through the
direct upload: `upload-url` (a grant for one PUT), the PUT itself, then `complete`. On AWS a
synchronous Lambda takes at most 6 MB and API Gateway base64-encodes the body, so a multipart
body carrying more than about 4.4 MB of file never reaches the function; the default limit
stays under that.

Retries. Network errors, 5xx and 429 are retried with exponential backoff and full jitter
(`Retry-After` is honoured when the service sends it). Every request of one logical upload
carries the same `Idempotency-Key` (the service scopes keys per route), so a retried upload,
grant or complete returns the first answer instead of storing a second photo. A 409 on a
retry that follows a lost connection means the first attempt is still running (or, for the
PUT, already landed), so it is waited out (or accepted) rather than reported.

Errors. A request that gets no usable answer raises `ProfilePhotosError` with code
`NETWORK_ERROR`, naming the method and the URL without its query: a signed URL's query is a
bearer credential, so neither the message nor a traceback repeats it. When no connection to
the service itself opens at all (refused, unknown host, connect timeout), the error is
`ServiceUnreachable`: nothing was sent, and the service is probably not running at that URL.

Tokens. A wrong or expired token is refused by the service only after it has read the whole
request, so before a multipart upload of more than `token_check_threshold` bytes the client
asks something cheap (`me { id }`) first, unless the token was accepted moments ago: a refused
token costs one small request instead of the file's upload. A direct upload needs no such
check, since its first step (`upload-url`) carries no file.

Signed URLs. `profile_photo_url` keeps each URL until shortly before the expiry written in
its token (the `exp` claim of the `token` query parameter, or a presigned URL's
`X-Amz-Date` + `X-Amz-Expires`), then asks again.

Avatars. Every URL helper takes `square`: with a rendition size (SMALL, MEDIUM, LARGE) the
service hands out the `size` x `size` square cut from the photo's crop box, which it frames
around the faces it finds (else the centre), or which the owner sets (`upload(crop=...)`,
`set_crop`). A new crop gives new square URLs, so cached ones are forgotten. `avatar` adds the
placeholder a client paints while the square loads (ThumbHash and dominant colour).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import random
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

import requests
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor
from urllib3.exceptions import ConnectTimeoutError

from profile_photos_client.errors import (
    NETWORK_ERROR,
    ProfilePhotosError,
    ServiceUnreachable,
    from_envelope,
)
from profile_photos_client.models import (
    SIZES,
    SQUARE_SIZES,
    Avatar,
    Crop,
    DeleteResult,
    DownloadedPhoto,
    Export,
    ExportedPhoto,
    ProfilePhoto,
    UploadedPhoto,
)

UPLOAD = "/api/storage/profile-photo/upload"
UPLOAD_URL = "/api/storage/profile-photo/upload-url"
COMPLETE = "/api/storage/profile-photo/complete"
GRAPHQL = "/graphql"

# the largest file sent as multipart: 6 MB Lambda payload, 4/3 for base64, minus the event
# envelope and the multipart framing (FACTS: about 4.5 MiB fits; SPEC: "about 4.4 MB")
DEFAULT_MULTIPART_LIMIT = 4_400_000
# a multipart upload bigger than this asks whether the token is accepted before sending it:
# below it, a refused upload wastes less than the check's round trip is worth
DEFAULT_TOKEN_CHECK_THRESHOLD = 1_000_000
# how long an accepted token is trusted without asking again (tokens live for hours; a token
# that expires inside this window is refused by the upload itself, as without the check)
TOKEN_TRUSTED_FOR = 60.0
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
}
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
CHUNK = 64 * 1024
# Failures of the connection itself (refused, reset, dropped mid-answer, timed out): retried.
NETWORK_FAILURES = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# What an error message must never repeat of a signed URL: its query, and the parameters that
# sign it (LOCAL's `token`, S3/R2's `X-Amz-Signature`, `X-Amz-Credential`, ...) wherever found.
QUERY = re.compile(r"\?[^\s'\"()<>]+")
SIGNING_PARAMETER = re.compile(r"(?i)\b(token|signature|x-amz-[a-z-]+)=[^&\s'\"()<>]*")

Progress = Callable[[int, int], None]
# a crop as the caller gives it: (left, top, side) in pixels of the upright photo, or a Crop
CropBox = tuple[int, int, int] | Crop

# every query with a URL takes the size and the shape: `$size: PhotoSize!, $square: Boolean!`
SHAPE = "$size: PhotoSize!, $square: Boolean!"
URL = "url(size: $size, square: $square)"
CROP_FIELDS = "crop { left top side source }"
PHOTO_FIELDS = (
    f"assetId fileKey {URL} contentType size uploadedAt fileName {CROP_FIELDS} "
    "width height thumbhash dominantColor"
)
PHOTOS = f"query Photos({SHAPE}) {{ me {{ profilePhotos {{ {PHOTO_FIELDS} }} }} }}"
WHO_AM_I = "query TokenCheck { me { id } }"
CURRENT_URL = (
    f"query CurrentUrl({SHAPE}) {{ me {{ profilePhotoUrl(size: $size, square: $square) }} }}"
)
ASSET_URLS = f"query AssetUrls({SHAPE}) {{ me {{ profilePhotos {{ assetId {URL} }} }} }}"
PHOTO_URL = (
    f"query PhotoUrl($id: ID!, {SHAPE}) "
    "{ user(id: $id) { profilePhotoUrl(size: $size, square: $square) } }"
)
AVATAR = (
    f"query Avatar($id: ID!, {SHAPE}) {{ user(id: $id) {{ "
    "profilePhotoUrl(size: $size, square: $square) profilePhotoThumbhash profilePhotoColor } }"
)
RESTORE = (
    f"mutation Restore($id: ID!, {SHAPE}) "
    f"{{ restoreProfilePhoto(assetId: $id) {{ photo {{ {PHOTO_FIELDS} }} }} }}"
)
SET_CROP = (
    f"mutation SetCrop($id: ID!, $crop: CropInput!, {SHAPE}) "
    f"{{ setProfilePhotoCrop(assetId: $id, crop: $crop) {{ {PHOTO_FIELDS} }} }}"
)
DELETE_FIELDS = (
    f"deletedCount deletedAssetIds currentPhoto {{ {PHOTO_FIELDS} }} "
    "purge { cdn invalidationId paths }"
)
DELETE = (
    f"mutation Delete($id: ID!, {SHAPE}) "
    f"{{ deleteProfilePhoto(assetId: $id) {{ {DELETE_FIELDS} }} }}"
)
DELETE_ALL = f"mutation DeleteAll({SHAPE}) {{ deleteAllProfilePhotos {{ {DELETE_FIELDS} }} }}"
EXPORT = (
    "mutation Export($first: Int, $after: String) { exportProfilePhotos(first: $first, "
    "after: $after) { count expiresAt items { assetId fileKey url contentType size fileName "
    f"uploadedAt archived archivedAt {CROP_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` tries in all; waits drawn uniformly from [0, min(cap, base * 2**n)] (full
    jitter), or the service's `Retry-After` (up to `max_retry_after`) plus a little jitter."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 20.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        jitter = random.uniform(0, min(self.cap, self.base * 2**attempt))  # noqa: S311
        if retry_after is not None:
            return min(retry_after, self.max_retry_after) + min(jitter, self.base)
        return jitter


class _Monotonic:
    """Reports `(sent, total)` to the caller's callback, never going back (a retried request
    starts sending again from 0: its progress shows once it passes what was reported)."""

    def __init__(self, total: int, callback: Progress | None) -> None:
        self.total, self.callback, self.reported = total, callback, -1

    def __call__(self, sent: int) -> None:
        sent = max(0, min(sent, self.total))
        if self.callback is not None and sent > self.reported:
            self.reported = sent
            self.callback(sent, self.total)

    def finish(self) -> None:
        self(self.total)
        if self.callback is not None and self.reported < self.total:  # an empty file
            self.reported = self.total
            self.callback(self.total, self.total)


class _Reading:
    """A file region [start, start + size) as a PUT body read in chunks, counting bytes."""

    def __init__(self, file: IO[bytes], start: int, size: int, progress: _Monotonic) -> None:
        file.seek(start)
        self.file, self.left, self.size, self.progress = file, size, size, progress

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int = -1) -> bytes:
        amount = self.left if amount is None or amount < 0 else min(amount, self.left)
        data = self.file.read(amount)
        if amount and not data:
            raise OSError("the file ended before its announced size (changed while uploading?)")
        self.left -= len(data)
        self.progress(self.size - self.left)
        return data


@dataclass(slots=True)
class _Source:
    file: BinaryIO
    start: int
    size: int
    name: str
    content_type: str
    crop: tuple[int, int, int] | None = None


@dataclass(slots=True)
class _Answer:
    response: requests.Response
    after_drop: bool  # an earlier attempt of this request lost its connection


class ProfilePhotosClient:
    """A client of one deployment (`base_url`: the API's URL, stage included) for the user
    whose bearer `token` it holds.

    `session` is a plain `requests.Session` (set proxies, certificates or hooks on it).
    Thread-safe for the URL cache; use one client per thread for uploads.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        multipart_limit: int = DEFAULT_MULTIPART_LIMIT,
        url_refresh_margin: float = 60.0,
        url_cache_size: int = 1024,
        token_check_threshold: int = DEFAULT_TOKEN_CHECK_THRESHOLD,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required (the service's URL)")
        if not token:
            raise ValueError("token is required (a bearer JWT)")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.multipart_limit = multipart_limit
        self.url_refresh_margin = url_refresh_margin
        self.url_cache_size = url_cache_size
        self.token_check_threshold = token_check_threshold
        self._token_accepted_at: float | None = None  # time.monotonic() of the last 2xx
        self.session = session or requests.Session()
        self._urls: OrderedDict[tuple[str, str, bool], tuple[str, float]] = OrderedDict()
        self._urls_lock = threading.Lock()

    def __enter__(self) -> ProfilePhotosClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # -- uploads -------------------------------------------------------------------------

    def upload(
        self,
        path_or_file: str | os.PathLike[str] | BinaryIO,
        *,
        on_progress: Progress | None = None,
        file_name: str | None = None,
        content_type: str | None = None,
        idempotency_key: str | None = None,
        crop: CropBox | None = None,
    ) -> UploadedPhoto:
        """Upload a photo; it is the caller's current photo when this returns.

        `path_or_file`: a path, or a binary file object open for reading and seekable (read
        from its current position). `on_progress(sent, total)` is called as file bytes go
        out, never decreasing, last with `(total, total)`. `file_name` and `content_type`
        default to the path's name and the type its extension names. One
        `idempotency_key` (a fresh UUID by default) covers every request and retry.

        `crop`: `(left, top, side)`, the square (in pixels of the upright photo) its square
        renditions are cut from, instead of the one the service frames around the faces it
        finds. A box outside the photo, or `side` < 32, is refused (400 VALIDATION_FAILED)
        and nothing is stored."""
        key = idempotency_key or str(uuid.uuid4())
        box = _crop(crop)
        with _open(path_or_file, file_name, content_type) as source:
            source.crop = box
            progress = _Monotonic(source.size, on_progress)
            if source.size > self.multipart_limit:
                photo = self._direct_upload(source, key, progress)
            else:
                if source.size > self.token_check_threshold:
                    self._check_token()
                try:
                    photo = self._multipart_upload(source, key, progress)
                except ProfilePhotosError as error:
                    if error.status != 413:
                        raise
                    photo = self._direct_upload(source, key, progress)
            progress.finish()
        self.clear_url_cache()
        return photo

    def _check_token(self) -> None:
        """Raise UNAUTHORIZED unless the service accepts the token, asking only when no answer
        proved it within `TOKEN_TRUSTED_FOR` seconds."""
        accepted = self._token_accepted_at
        if accepted is not None and time.monotonic() - accepted < TOKEN_TRUSTED_FOR:
            return
        self._graphql(WHO_AM_I, {}, retry_network=True)

    def _multipart_upload(self, source: _Source, key: str, progress: _Monotonic) -> UploadedPhoto:
        def body() -> tuple[Any, dict[str, str]]:
            source.file.seek(source.start)
            crop = [("crop", ",".join(map(str, source.crop)))] if source.crop else []
            encoder = MultipartEncoder(
                fields=[
                    ("assetContext", "PROFILE_PICTURE"),
                    *crop,
                    ("file", (source.name, _Window(source), source.content_type)),
                ]
            )
            # the file is the last part: what precedes it, and the closing delimiter after
            trailer = len(f"\r\n--{encoder.boundary_value}--\r\n")
            before = encoder.len - source.size - trailer
            monitor = MultipartEncoderMonitor(encoder, lambda m: progress(m.bytes_read - before))
            return monitor, {"Content-Type": monitor.content_type}

        answer = self._request("POST", self._api(UPLOAD), body=body, key=key)
        return UploadedPhoto.from_json(self._data(answer.response))

    def _direct_upload(self, source: _Source, key: str, progress: _Monotonic) -> UploadedPhoto:
        announce: dict[str, Any] = {
            "fileName": source.name,
            "contentType": source.content_type,
            "size": source.size,
        }
        if source.crop is not None:
            announce["crop"] = dict(zip(("left", "top", "side"), source.crop, strict=True))
        grant = self._data(
            self._request("POST", self._api(UPLOAD_URL), json_body=announce, key=key).response
        )
        put = self._request(
            grant.get("method") or "PUT",
            grant["uploadUrl"],
            body=lambda: (_Reading(source.file, source.start, source.size, progress), {}),
            headers={str(k): str(v) for k, v in (grant.get("headers") or {}).items()},
            authorized=False,
        )
        # after a lost connection, "already received" (LOCAL 409, R2 412) means the first PUT
        # landed: complete checks the staged bytes anyway
        landed = put.after_drop and put.response.status_code in (409, 412)
        if not put.response.ok and not landed:
            raise _error(put.response)
        done = self._request(
            "POST", self._api(COMPLETE), json_body={"fileKey": grant["fileKey"]}, key=key
        )
        return UploadedPhoto.from_json(self._data(done.response))

    # -- downloads -----------------------------------------------------------------------

    def download(
        self,
        to: str | os.PathLike[str] | BinaryIO | None = None,
        *,
        asset_id: str | None = None,
        size: str = "ORIGINAL",
        square: bool = False,
    ) -> DownloadedPhoto:
        """Download the caller's current photo, or their active photo `asset_id`, in `size`
        (`square`: the square rendition of that size).

        `to`: a file path, an existing directory (the file is named as the service stores it,
        e.g. `<uuid>.small.webp`), a binary file object to write into, or None for the
        current directory. A path is written through a `.part` file, so it never holds half
        a photo. Archived photos are not served by id: restore one first, or export."""
        shape = _shape(size, square)
        size = shape["size"]
        if asset_id is None:
            me = self._graphql(CURRENT_URL, shape, retry_network=True)["me"]
            url = (me or {}).get("profilePhotoUrl")
            if not isinstance(url, str):
                raise ProfilePhotosError(200, "NOT_FOUND", "You have no profile photo")
        else:
            me = self._graphql(ASSET_URLS, shape, retry_network=True)["me"]
            found = [p for p in (me or {}).get("profilePhotos", []) if p["assetId"] == asset_id]
            if not found:
                raise ProfilePhotosError(
                    200,
                    "NOT_FOUND",
                    f"Photo {asset_id} is not one of your active photos "
                    "(archived photos are served after a restore, or by an export)",
                )
            url = str(found[0]["url"])
        name = _url_name(url)
        if to is None or isinstance(to, str | os.PathLike):
            target = Path(to) if to is not None else Path.cwd()
            if target.is_dir():
                target = target / name
            written, content_type = self._download(url, target, None)
            return DownloadedPhoto(target, written, content_type, size, asset_id, square)
        written, content_type = self._fetch(url, to, name)
        return DownloadedPhoto(None, written, content_type, size, asset_id, square)

    # -- signed URLs ---------------------------------------------------------------------

    def profile_photo_url(
        self, user_id: str, size: str = "ORIGINAL", square: bool = False
    ) -> str | None:
        """The signed URL of `user_id`'s current photo in `size` (ORIGINAL, SMALL, MEDIUM,
        LARGE; `square`: the `size` x `size` square cut from its crop box, a rendition size
        only), None when they have none. Cached until `url_refresh_margin` seconds (at most
        a quarter of its lifetime) before the URL expires."""
        shape = _shape(size, square)
        cache_key = (user_id, shape["size"], square)
        now = time.time()
        with self._urls_lock:
            cached = self._urls.get(cache_key)
            if cached and now < cached[1]:
                self._urls.move_to_end(cache_key)
                return cached[0]
        user = self._graphql(PHOTO_URL, {"id": user_id, **shape}, retry_network=True)["user"]
        url = user.get("profilePhotoUrl") if user else None
        if not isinstance(url, str):
            return None
        self._remember(cache_key, url, now)
        return url

    def avatar(self, user_id: str, size: str = "MEDIUM", square: bool = True) -> Avatar | None:
        """`user_id`'s current photo as a client draws it: the square URL in `size` (by
        default), with the ThumbHash and dominant colour to paint while it loads (None until
        the service has made them, normally seconds after an upload). None without a photo.
        Always asks the service: the placeholder changes with the photo."""
        shape = _shape(size, square)
        user = self._graphql(AVATAR, {"id": user_id, **shape}, retry_network=True)["user"]
        url = user.get("profilePhotoUrl") if user else None
        if not isinstance(url, str):
            return None
        self._remember((user_id, shape["size"], square), url, time.time())
        return Avatar(
            user_id, url, user.get("profilePhotoThumbhash"), user.get("profilePhotoColor")
        )

    def _remember(self, cache_key: tuple[str, str, bool], url: str, now: float) -> None:
        expires = url_expiry(url)
        if expires is None:
            return
        refresh_at = expires - min(self.url_refresh_margin, max(0.0, expires - now) / 4)
        with self._urls_lock:
            self._urls[cache_key] = (url, refresh_at)
            self._urls.move_to_end(cache_key)
            while len(self._urls) > self.url_cache_size:
                self._urls.popitem(last=False)

    def clear_url_cache(self) -> None:
        """Forget every cached URL (done after each upload, restore, crop and delete)."""
        with self._urls_lock:
            self._urls.clear()

    # -- GraphQL management --------------------------------------------------------------

    def photos(self, size: str = "ORIGINAL", square: bool = False) -> list[ProfilePhoto]:
        """The caller's active photos, newest first (URLs in `size`, square if asked), each
        with its crop box and placeholders once the service has made them."""
        me = self._graphql(PHOTOS, _shape(size, square), retry_network=True)["me"]
        return [ProfilePhoto.from_json(p) for p in (me or {}).get("profilePhotos", [])]

    def restore(self, asset_id: str, size: str = "ORIGINAL", square: bool = False) -> ProfilePhoto:
        """Make one of the caller's photos (archived or not) active and current again."""
        data = self._graphql(RESTORE, {"id": asset_id, **_shape(size, square)})
        self.clear_url_cache()
        return ProfilePhoto.from_json(data["restoreProfilePhoto"]["photo"])

    def set_crop(
        self,
        asset_id: str,
        left: int,
        top: int,
        side: int,
        *,
        size: str = "MEDIUM",
        square: bool = True,
    ) -> ProfilePhoto:
        """Set the square (pixels of the upright photo) that the square renditions of one of
        the caller's photos are cut from; its crop's source becomes USER. The photo comes
        back with its URL in `size` (the MEDIUM square by default): every square URL changes,
        so no cache serves the old crop. A box outside the photo, or `side` < 32, is refused
        (BAD_USER_INPUT) and nothing changes. Costs one unit of the caller's rate limit."""
        crop = dict(zip(("left", "top", "side"), _box((left, top, side)), strict=True))
        data = self._graphql(SET_CROP, {"id": asset_id, "crop": crop, **_shape(size, square)})
        self.clear_url_cache()
        return ProfilePhoto.from_json(data["setProfilePhotoCrop"])

    def delete(self, asset_id: str) -> DeleteResult:
        """Erase one of the caller's photos: bytes, renditions and metadata. Every URL of it
        stops serving at the service when this returns (`purge` says what was purged)."""
        data = self._graphql(DELETE, {"id": asset_id, **_shape("ORIGINAL", False)})
        self.clear_url_cache()
        return DeleteResult.from_json(data["deleteProfilePhoto"])

    def delete_all(self) -> DeleteResult:
        """Erase every photo of the caller, archived ones included (GDPR erasure)."""
        data = self._graphql(DELETE_ALL, _shape("ORIGINAL", False))
        self.clear_url_cache()
        return DeleteResult.from_json(data["deleteAllProfilePhotos"])

    def export(
        self,
        to_dir: str | os.PathLike[str],
        *,
        page_size: int = 100,
        on_progress: Progress | None = None,
    ) -> Export:
        """Download every photo of the caller (archived included) into `to_dir` as
        `<assetId>.<ext>`, each checked against its exported size, with `export.json`
        listing their metadata. `on_progress(done, total)` counts photos."""
        directory = Path(to_dir)
        directory.mkdir(parents=True, exist_ok=True)
        photos: list[ExportedPhoto] = []
        after: str | None = None
        count = 0
        while True:
            variables = {"first": page_size, "after": after}
            page = self._graphql(EXPORT, variables, retry_network=True)["exportProfilePhotos"]
            count = int(page["count"])
            for item in page["items"]:
                target = directory / _export_name(item)
                self._download(item["url"], target, int(item["size"]))
                photos.append(ExportedPhoto.from_json(item, target))
                if on_progress is not None:
                    on_progress(len(photos), count)
            info = page["pageInfo"]
            if not info["hasNextPage"] or not info.get("endCursor"):
                break
            after = info["endCursor"]
        manifest = {"count": count, "photos": [p.manifest_entry() for p in photos]}
        (directory / "export.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return Export(count=count, directory=directory, photos=tuple(photos))

    def _download(self, url: str, target: Path, size: int | None) -> tuple[int, str]:
        """Write `url`'s bytes to `target` via `target.part`, checked against `size` (the
        size an export states; None: the answer's own Content-Length is enforced by
        urllib3). Returns the bytes written and their Content-Type."""
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("wb") as out:
                written, content_type = self._fetch(url, out, target.name)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if size is not None and written != size:
            partial.unlink(missing_ok=True)
            raise ProfilePhotosError(
                200,
                "INCOMPLETE_DOWNLOAD",
                f"{target.name}: got {written} bytes, the export says {size}",
            )
        partial.replace(target)
        return written, content_type

    def _fetch(self, url: str, out: IO[bytes], name: str) -> tuple[int, str]:
        """Stream `url` (a signed URL: no bearer token goes with it) into `out`."""
        answer = self._request("GET", url, authorized=False, stream=True)
        response = answer.response
        try:
            if not response.ok:
                raise _error(response)
            written = 0
            for chunk in response.iter_content(CHUNK):
                written += len(chunk)
                out.write(chunk)
        except requests.RequestException as exc:
            raise ProfilePhotosError(
                None, NETWORK_ERROR, f"Download of {name} failed: {_redacted(exc)}"
            ) from None
        finally:
            response.close()
        return written, response.headers.get("Content-Type", "application/octet-stream")

    # -- transport -----------------------------------------------------------------------

    def _api(self, path: str) -> str:
        return self.base_url + path

    def _graphql(
        self, query: str, variables: dict[str, Any], *, retry_network: bool = False
    ) -> dict[str, Any]:
        """`data` of one GraphQL operation. Rate limiting (nothing changed) is always waited
        out; network errors and 5xx only for reads (`retry_network`), since a mutation whose
        answer was lost may have happened."""
        for attempt in range(self.retry.attempts):
            answer = self._request(
                "POST",
                self._api(GRAPHQL),
                json_body={"query": query, "variables": variables},
                retry_failures=retry_network,
            )
            response = answer.response
            body = _json(response)
            errors = body.get("errors") if isinstance(body, dict) else None
            if not response.ok and not errors:
                raise _error(response)
            if errors:
                first = errors[0] if isinstance(errors[0], dict) else {}
                extensions = first.get("extensions") or {}
                code = str(extensions.get("code") or "GRAPHQL_ERROR")
                retry_after = _seconds(extensions.get("retryAfter"))
                if code == "RATE_LIMITED" and attempt + 1 < self.retry.attempts:
                    time.sleep(self.retry.delay(attempt, retry_after))
                    continue
                message = str(first.get("message") or "GraphQL request failed")
                raise ProfilePhotosError(
                    response.status_code, code, message, retry_after=retry_after
                )
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                raise ProfilePhotosError(
                    response.status_code, "BAD_RESPONSE", "GraphQL answer without data"
                )
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(
        self,
        method: str,
        url: str,
        *,
        body: Callable[[], tuple[Any, dict[str, str]]] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        key: str | None = None,
        authorized: bool = True,
        retry_failures: bool = True,
        stream: bool = False,
    ) -> _Answer:
        """One request, retried on network errors, 5xx and 429 (network errors and 5xx only
        when `retry_failures`). A non-2xx answer is returned for the caller to judge."""
        sent_headers = dict(headers or {})
        if authorized:
            sent_headers["Authorization"] = f"Bearer {self.token}"
        if key is not None:
            sent_headers["Idempotency-Key"] = key
        dropped = False
        last = self.retry.attempts - 1
        for attempt in range(self.retry.attempts):
            data, body_headers = body() if body is not None else (None, {})
            try:
                response = self.session.request(
                    method,
                    url,
                    data=data,
                    json=json_body,
                    headers=sent_headers | body_headers,
                    timeout=self.timeout,
                    stream=stream,
                )
            except NETWORK_FAILURES as exc:
                if not retry_failures or attempt == last:
                    raise self._failure(method, url, exc) from None
                dropped = True
                time.sleep(self.retry.delay(attempt, None))
                continue
            except requests.RequestException as exc:  # a URL requests refuses, a redirect loop
                raise self._failure(method, url, exc) from None
            status = response.status_code
            if authorized and response.ok:
                self._token_accepted_at = time.monotonic()
            retryable = status == 429 or (
                retry_failures
                and (status >= 500 or (dropped and status == 409 and key is not None))
            )
            if retryable and attempt < last:
                retry_after = _retry_after(response)
                response.close()
                time.sleep(self.retry.delay(attempt, retry_after))
                continue
            return _Answer(response, dropped)
        raise AssertionError("unreachable")  # pragma: no cover

    def _failure(
        self, method: str, url: str, error: requests.RequestException
    ) -> ProfilePhotosError:
        """`ServiceUnreachable` when no connection to the service itself could be opened,
        else the network error naming `url` without its query."""
        if url.startswith(self.base_url + "/") and _never_connected(error):
            return ServiceUnreachable(_where(self.base_url))
        return _failure(method, url, error)

    @staticmethod
    def _data(response: requests.Response) -> dict[str, Any]:
        if not response.ok:
            raise _error(response)
        body = _json(response)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ProfilePhotosError(response.status_code, "BAD_RESPONSE", "Answer without data")
        return data


class _Window:
    """The file region a multipart part sends: `len` tells MultipartEncoder the bytes still to
    send, `read` stops at its end (the encoder reads in chunks; nothing is loaded whole). Not
    `_Reading`: requests-toolbelt measures a part by `__len__` before `len`, and a part whose
    length does not shrink as it is read never ends."""

    def __init__(self, source: _Source) -> None:
        self.file, self.left = source.file, source.size

    @property
    def len(self) -> int:
        """Bytes still to send (how MultipartEncoder measures a body it reads)."""
        return self.left

    def read(self, amount: int = -1) -> bytes:
        amount = self.left if amount is None or amount < 0 else min(amount, self.left)
        data = self.file.read(amount)
        if amount and not data:
            raise OSError("the file ended before its announced size (changed while uploading?)")
        self.left -= len(data)
        return data


@contextlib.contextmanager
def _open(
    path_or_file: str | os.PathLike[str] | BinaryIO, file_name: str | None, content_type: str | None
) -> Iterator[_Source]:
    if isinstance(path_or_file, str | os.PathLike):
        path = Path(path_or_file)
        with path.open("rb") as file:
            yield _source(file, file_name or path.name, content_type)
        return
    name = file_name or os.path.basename(str(getattr(path_or_file, "name", "") or ""))
    if not name:
        raise ValueError("file_name is required for a file object without a name")
    yield _source(path_or_file, name, content_type)


def _source(file: BinaryIO, name: str, content_type: str | None) -> _Source:
    if not file.seekable():
        raise ValueError(
            "the file must be seekable (its size is sent first, and retries re-read it)"
        )
    start = file.tell()
    end = file.seek(0, os.SEEK_END)
    file.seek(start)
    kind = content_type or CONTENT_TYPES.get(Path(name).suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted({s.lstrip(".") for s in CONTENT_TYPES}))
        raise ValueError(
            f"cannot tell the type of {name!r} (allowed: {allowed}); pass content_type"
        )
    return _Source(file, start, end - start, name, kind)


def _shape(size: str, square: bool) -> dict[str, Any]:
    """The `$size` and `$square` variables of a URL query, checked before anything is sent:
    a square comes only in a rendition size."""
    upper = str(size).upper()
    if upper not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if square and upper not in SQUARE_SIZES:
        raise ValueError(f"a square comes in {', '.join(SQUARE_SIZES)}, not {upper}")
    return {"size": upper, "square": bool(square)}


def _crop(crop: CropBox | None) -> tuple[int, int, int] | None:
    return None if crop is None else _box(crop)


def _box(crop: CropBox) -> tuple[int, int, int]:
    """`crop` as (left, top, side), checked for shape only: three non-negative integers.
    Whether the box fits the photo (and `side` >= 32) is the service's to say."""
    numbers = (crop.left, crop.top, crop.side) if isinstance(crop, Crop) else tuple(crop)
    if len(numbers) != 3 or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers
    ):
        raise ValueError(f"crop must be (left, top, side): three whole numbers >= 0, got {crop!r}")
    return (numbers[0], numbers[1], numbers[2])


def _export_name(item: dict[str, Any]) -> str:
    """`<key's file name>`, when it is a plain name (the service's `<uuid>.<ext>`); never a
    path the service's answer could point outside the export directory with."""
    name = PurePosixPath(str(item.get("fileKey") or "")).name
    if SAFE_NAME.fullmatch(name) and name not in ("export.json",):
        return name
    asset = re.sub(r"[^A-Za-z0-9_-]", "_", str(item.get("assetId") or "photo"))[:100]
    return f"{asset}.bin"


def url_expiry(url: str) -> float | None:
    """When a signed URL expires (epoch seconds): its token's `exp` claim, or a presigned
    URL's `X-Amz-Date` + `X-Amz-Expires`; None when the URL says nothing."""
    query = parse_qs(urlsplit(url).query)
    token = (query.get("token") or [""])[0]
    parts = token.split(".")
    if len(parts) == 3:
        try:
            payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
            exp = json.loads(payload).get("exp")
        except (binascii.Error, ValueError, AttributeError):
            exp = None
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return float(exp)
    date, expires = query.get("X-Amz-Date"), query.get("X-Amz-Expires")
    if date and expires:
        try:
            start = datetime.strptime(date[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return start.timestamp() + int(expires[0])
        except ValueError:
            return None
    return None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error(response: requests.Response) -> ProfilePhotosError:
    return from_envelope(
        response.status_code, _json(response), response.reason or "", _retry_after(response)
    )


def _where(url: str) -> str:
    """`url` without what grants access: its query (a signed URL's token or signature) and
    any user:password before the host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _redacted(error: BaseException) -> str:
    """`error`'s text with every URL query and signing parameter cut out: requests and
    urllib3 quote the whole URL in their messages ("Max retries exceeded with url:
    /...?token=...", "Invalid URL '...'"), and a signed URL's query is a bearer credential."""
    text = SIGNING_PARAMETER.sub(r"\1=<redacted>", str(error))
    return QUERY.sub("?<redacted>", text)


def _never_connected(error: requests.RequestException) -> bool:
    """True when the connection was never opened (refused, unknown host, connect timeout):
    urllib3 reports each as a `ConnectTimeoutError` (`NewConnectionError` and
    `NameResolutionError` are kinds of it) inside requests' ConnectionError."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError) or not error.args:
        return False
    reason = getattr(error.args[0], "reason", error.args[0])  # urllib3's MaxRetryError
    return isinstance(reason, ConnectTimeoutError)


def _url_name(url: str) -> str:
    """The file name a signed URL's path ends in (`<uuid>.<ext>`, `<uuid>.small.webp`), when
    it is a plain name; never a path the service's answer could point elsewhere with."""
    name = PurePosixPath(urlsplit(url).path).name
    return name if SAFE_NAME.fullmatch(name) else "photo"


def _failure(method: str, url: str, error: requests.RequestException) -> ProfilePhotosError:
    """The SDK's error for a request that got no usable answer. Raised `from None`: the
    original exception (and its traceback) repeats the URL, query included."""
    reason = f"{type(error).__name__}: {_redacted(error)}"
    return ProfilePhotosError(None, NETWORK_ERROR, f"{method} {_where(url)} failed: {reason}")
