"""The support code every other support folder builds on.

The floors, lowest first: the service (`profile_photos`, the functions), then `devkit` (the
template reader, API Gateway events, development defaults and tokens, Lambda's stream
records and filters, the Lambda context, a failure queue's replay), then the folders built on
it (`devstack`, `ops`, `bench`, `testkit`), then `tests`. A floor imports only from the floors
below it (tests/unit/test_import_direction.py).
"""
