"""moto's server on loopback, in its own process: `python -m bench.moto_server`.

Prints `PORT <n>` once it listens, then serves until its stdin closes. A process of its own so
that moto's work never shares the GIL (or tracemalloc) with the handler being measured.
DynamoDB requests are serialised as DynamoDB guarantees (devstack.moto_atomic).
"""

from __future__ import annotations

import sys

from moto.server import ThreadedMotoServer

from devstack.moto_atomic import make_dynamodb_atomic


def main() -> None:
    make_dynamodb_atomic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)
    try:
        sys.stdin.read()  # until the bench closes our stdin (or exits)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
