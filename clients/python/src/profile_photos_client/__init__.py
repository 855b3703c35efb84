"""Python SDK of the profile-photos service: `ProfilePhotosClient(base_url, token)`."""

from profile_photos_client.client import DEFAULT_MULTIPART_LIMIT, ProfilePhotosClient, RetryPolicy
from profile_photos_client.errors import ProfilePhotosError
from profile_photos_client.models import (
    DeleteResult,
    Export,
    ExportedPhoto,
    ProfilePhoto,
    UploadedPhoto,
)

__all__ = [
    "DEFAULT_MULTIPART_LIMIT",
    "DeleteResult",
    "Export",
    "ExportedPhoto",
    "ProfilePhoto",
    "ProfilePhotosClient",
    "ProfilePhotosError",
    "RetryPolicy",
    "UploadedPhoto",
]
