"""The store: every DynamoDB table (through pynamodb) and the object storage providers.

`models` maps the tables; `photos`, `users`, `grants` and `rate_limits` are the only modules
that read or write them, and they hand the domain plain `records`, never pynamodb models.
`storage` is the object store (LOCAL disk or R2). `bind_tables` is called once, by the
composition root (`profile_photos.services`).
"""
