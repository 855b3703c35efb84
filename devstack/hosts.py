"""Which `Host` headers the local stack answers: a defence against DNS rebinding.

A web page can make the developer's browser resolve its own name (`evil.example`) to
127.0.0.1 and then call the stack with the browser's full authority over loopback: mint
tokens at `/dev/token`, upload, read every photo, and, through the embedded DynamoDB (moto
checks no signature), read or change every table. Such a request still carries the page's
own name in `Host`, because the browser sends the name it resolved. So the stack answers a
request only when its `Host` is a name no outside DNS decides:

- `localhost` and `*.localhost` (RFC 6761: resolved to loopback by the machine itself);
- an IP literal (`127.0.0.1`, `[::1]`, and also the Android emulator's `10.0.2.2` or a LAN
  address the stack was told to listen on): no DNS is involved, so nothing can be rebound;
- the name the stack was configured to listen on (`HOST`, when it is a name: a stack
  exposed on purpose, with its own secrets, see `devstack.stack.exposure_refusal`).

A port is allowed after any of them. A missing `Host` (HTTP/1.0) is no browser's request
and is answered. Anything else is refused before the request is read further, so it
changes nothing.
"""

from __future__ import annotations

import ipaddress
import re

PORT = re.compile(r"[0-9]{1,5}")
MISDIRECTED = (
    "Host not allowed: the local stack answers only localhost, IP addresses and its HOST"
    " (DNS rebinding protection)"
)


def host_name(header: str) -> str | None:
    """The name or address of a `Host` header without its port, lower case; None when the
    header is not a well-formed host[:port]."""
    value = header.strip().lower()
    if value.startswith("["):
        address, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not (rest[0] == ":" and PORT.fullmatch(rest[1:]))):
            return None
        return f"[{address}]"
    name, colon, port = value.rpartition(":") if ":" in value else (value, "", "")
    if colon and not PORT.fullmatch(port):
        return None
    return name.removesuffix(".") or None


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return name.startswith("[") == (":" in name)  # IPv6 only in brackets, IPv4 never


def allowed_host(header: str | None, configured: str | None = None) -> bool:
    """Whether a request with this `Host` header may be answered (see the module docstring);
    `configured` is the address or name the server listens on (`HOST`)."""
    if header is None:
        return True
    name = host_name(header)
    if name is None:
        return False
    if name == "localhost" or name.endswith(".localhost") or is_ip_literal(name):
        return True
    own = (configured or "").strip().lower().removesuffix(".")
    return bool(own) and name == own
