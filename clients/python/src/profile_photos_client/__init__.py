"""Python SDK of the profile-photos service: `ProfilePhotosClient(base_url, token)`."""

from importlib.metadata import PackageNotFoundError, version

from profile_photos_client.client import (
    DEFAULT_MULTIPART_LIMIT,
    DEFAULT_TOKEN_CHECK_THRESHOLD,
    ProfilePhotosClient,
    RetryPolicy,
)
from profile_photos_client.errors import ProfilePhotosError, ServiceUnreachable
from profile_photos_client.models import (
    Avatar,
    Crop,
    DeleteResult,
    DownloadedPhoto,
    Export,
    ExportedPhoto,
    ProfilePhoto,
    PurgeReceipt,
    UploadedPhoto,
)

try:
    __version__ = version("profile-photos-client")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "DEFAULT_MULTIPART_LIMIT",
    "DEFAULT_TOKEN_CHECK_THRESHOLD",
    "Avatar",
    "Crop",
    "DeleteResult",
    "DownloadedPhoto",
    "Export",
    "ExportedPhoto",
    "ProfilePhoto",
    "ProfilePhotosClient",
    "ProfilePhotosError",
    "PurgeReceipt",
    "RetryPolicy",
    "ServiceUnreachable",
    "UploadedPhoto",
    "__version__",
]
