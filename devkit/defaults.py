"""Development defaults. Used only by the local stack and the sample events, and only where
the environment does not already set a value. Never deploy these: they are public."""

DEV_JWT_SECRET = "dev-only-jwt-secret--never-use-in-production"  # noqa: S105 - public by design
DEV_STORAGE_SECRET = "dev-only-storage-signing-secret--never-use-in-production"  # noqa: S105

DEV_ENV = {
    "JWT_SECRET": DEV_JWT_SECRET,
    "LOCAL_STORAGE_SECRET": DEV_STORAGE_SECRET,
    "OBJECT_STORAGE_PROVIDER": "LOCAL",
    "PHOTOS_TABLE": "PhotosTable",  # the logical ids: what `sam local` resolves !Ref to
    "USERS_TABLE": "UsersTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "RATE_LIMITS_TABLE": "RateLimitsTable",
    "UPLOADS_TABLE": "UploadsTable",
}

# What the local stack (`make dev`) sets unless the environment says otherwise, beside the
# secrets: GraphiQL-style tools load the schema by introspection, which deployed stacks keep
# off (the template's GRAPHQL_INTROSPECTION is "false").
LOCAL_STACK_ENV = {"GRAPHQL_INTROSPECTION": "true"}
