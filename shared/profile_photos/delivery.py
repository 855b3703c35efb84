"""Serving a file to the holder of a signed URL: the token and the object store, nothing else.

No DynamoDB is read on a hit: the token names the file and grants the operation, so one
object-store request answers every signed-URL hit. A miss on a photo size not made yet takes
the photo's render lease (one conditional write, which also tells whether the photo still
exists) and renders it; see `renditions` for why one render at a time.

While another request renders the asked size, a miss waits a moment (`RENDER_WAITS`, about
1.5 s, polling the object store) and serves the file as soon as it appears, else answers 503
with `Retry-After`. Not a redirect to the original: the contract says a URL serves the size it
was minted for, a 128 px avatar slot would download up to 5 MB, and the holder of a size's
URL would get a URL of the full-resolution original that they were never handed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from profile_photos.errors import Conflict, Forbidden, NotFound, RenderPending, ValidationFailed
from profile_photos.renditions import ensure_rendition
from profile_photos.services import Services
from profile_photos.settings import MAX_PRESIGN_SECONDS
from profile_photos.store.storage import STAGING_PREFIX, USER_ASSETS, StoredFile
from profile_photos.validation import normalize_content_type

# A Lambda response is capped at 6 MB (6,291,456 bytes) after base64. Keeping 16 KiB for the
# status line, headers and JSON envelope, files up to this size are served inline; larger R2
# files are answered with a redirect to a presigned GET.
LAMBDA_RESPONSE_LIMIT = 6_291_456
MAX_INLINE_BYTES = (LAMBDA_RESPONSE_LIMIT - 16_384) // 4 * 3
UPLOAD_RECEIVED = "Upload already received"
# the staged key `upload-url` grants: staging/users/{sub}/{upload id}.{ext}
STAGED_UPLOAD = re.compile(
    re.escape(STAGING_PREFIX)
    + r"users/(?P<user>[A-Za-z0-9_-]{1,128})/(?P<upload>[0-9a-f-]{36})\.[a-z]{3,4}"
)
# seconds between looks at the object store while another request renders the asked size
RENDER_WAITS = (0.1, 0.2, 0.4, 0.8)


@dataclass(frozen=True, slots=True)
class SignedGet:
    """A GET (or HEAD) of `bucket/path` with a signed URL's `token`."""

    bucket: str
    path: str
    token: str | None
    head: bool = False
    if_none_match: str | None = None


@dataclass(frozen=True, slots=True)
class SignedPut:
    """A LOCAL direct upload: the PUT of `body` to `bucket/path` with a PUT token."""

    bucket: str
    path: str
    token: str | None
    body: bytes
    content_type: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a signed-URL request gets: the file (or a 304), or a redirect for large R2 files.

    Two cache lifetimes, in seconds: `shared_max_age` is what is left of the token (a CDN
    may keep the answer that long: an erasure purges it there), `max_age` the same capped
    at one `SIGNED_URL_WINDOW_SECONDS` (a browser's cache, which nobody can purge, keeps an
    erased photo at most one window).
    """

    file: StoredFile
    max_age: int
    shared_max_age: int
    redirect_url: str | None = None


def deliver_signed(services: Services, request: SignedGet, now: int) -> Delivery:
    """Check the token for GET on exactly `bucket/path`, then read the object (one request;
    a rendition not made yet is rendered first, by this request or by the one holding the
    photo's render lease, see the module docstring)."""
    bucket, path = request.bucket, request.path
    claims = services.signer.verify(
        request.token, bucket=bucket, path=path, operation="GET", now=now
    )
    left = claims["exp"] - now
    max_age = min(left, services.settings.signed_url_window_seconds)
    storage = services.storage
    inline_limit = MAX_INLINE_BYTES if services.settings.object_storage_provider == "R2" else None

    def read() -> StoredFile:
        return storage.read(
            bucket,
            path,
            include_body=not request.head,
            if_none_match=request.if_none_match,
            inline_limit=inline_limit,
        )

    try:
        file = read()
    except NotFound:
        # a size asked for before the stream made it: render it now, then serve it
        if bucket != USER_ASSETS:
            raise
        try:
            made = ensure_rendition(services, path, now)
        except RenderPending as pending:
            file = _rendered_meanwhile(read, pending)
        else:
            if not made:
                raise
            file = read()
    if file.too_large:
        return Delivery(
            file,
            max_age,
            left,
            redirect_url=storage.presigned_get(bucket, path, min(left, MAX_PRESIGN_SECONDS)),
        )
    return Delivery(file, max_age, left)


def _rendered_meanwhile(read: Callable[[], StoredFile], pending: RenderPending) -> StoredFile:
    """The file, once the request holding the render lease has stored it; `pending` (503 with
    `Retry-After`) if it does not appear within `RENDER_WAITS`."""
    for delay in RENDER_WAITS:
        time.sleep(delay)
        try:
            return read()
        except NotFound:
            continue
    raise pending


def accept_signed_put(services: Services, request: SignedPut, now: int) -> StoredFile:
    """LOCAL direct upload: store `body` if the token grants PUT on exactly this staged path,
    with exactly the size and type announced to `upload-url`, and only once.

    Once means once per grant, not only once per staged object: `complete` removes the staged
    object when it registers the photo, so the object store alone would take the same URL
    again (an orphan nobody completes). The grant is read (one GetItem) before anything is
    stored: a completed grant is 409 `Upload already received`, a grant that no longer exists
    (erased with its user) is 404 `Upload not found`. It is read again after storing, for a
    `complete` that finished in between, and what was stored is then removed. A PUT onto a
    staged key that holds an object is 409 `Upload already received` too.
    """
    bucket, path, body = request.bucket, request.path, request.body
    claims = services.signer.verify(
        request.token, bucket=bucket, path=path, operation="PUT", now=now
    )
    staged = STAGED_UPLOAD.fullmatch(path)
    if staged is None or not isinstance(claims.get("len"), int):
        raise Forbidden("Token verification failed: Token is not valid for uploads")
    if len(body) != claims["len"]:
        raise ValidationFailed(
            f"Body is {len(body)} bytes; this upload URL accepts exactly {claims['len']}"
        )
    if normalize_content_type(request.content_type) != claims.get("type"):
        raise ValidationFailed(
            f"Content-Type must be {claims.get('type')}, as announced to upload-url"
        )
    user_id, upload_id = staged["user"], staged["upload"]
    _check_grant_open(user_id, upload_id, path)
    storage = services.storage
    try:
        storage.put(
            bucket,
            path,
            body,
            claims["type"],
            {"file-name": claims.get("name", "")},
            exclusive=True,
        )
    except Conflict:
        # one grant, one object: a replayed PUT URL cannot swap the bytes under `complete`
        raise Conflict(UPLOAD_RECEIVED) from None
    try:
        _check_grant_open(user_id, upload_id, path)
    except (Conflict, NotFound):
        storage.delete(bucket, path)  # completed (or erased) while this PUT stored
        raise
    return storage.read(bucket, path, include_body=False)


def _check_grant_open(user_id: str, upload_id: str, path: str) -> None:
    """Refuse a PUT for a grant that has taken its file (claimed by a `complete`, which may
    have completed it) or no longer exists."""
    from profile_photos.store import grants  # pynamodb: a PUT's, never a GET's

    refused = grants.taken(grants.find_grant(user_id, upload_id), path)
    if isinstance(refused, NotFound):
        raise refused
    if refused is not None:
        raise Conflict(UPLOAD_RECEIVED)
