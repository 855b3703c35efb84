"""Print a bearer token the local stack accepts: `make token USER=<id> NAME=<username>`.

Without NAME the username is the user id, so a token is never one of a user without a name.

Signed with `JWT_SECRET` from the environment, else the labelled development default.
"""

from __future__ import annotations

import argparse
import os
import time

import jwt

from devkit.defaults import DEV_JWT_SECRET

DEFAULT_TTL = 24 * 3600


def make_token(user_id: str, username: str | None, *, ttl: int = DEFAULT_TTL) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl}
    if username:
        claims["username"] = username
    for claim, env in (("iss", "JWT_ISSUER"), ("aud", "JWT_AUDIENCE")):
        if os.environ.get(env):
            claims[claim] = os.environ[env]
    return jwt.encode(claims, os.environ.get("JWT_SECRET") or DEV_JWT_SECRET, algorithm="HS256")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", default="demo-user", help="the token's sub (user id)")
    parser.add_argument("--name", default="", help="the username claim (default: the user id)")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="seconds until expiry")
    args = parser.parse_args()
    user = args.user or "demo-user"
    print(make_token(user, args.name or user, ttl=args.ttl))


if __name__ == "__main__":
    main()
