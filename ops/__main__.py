"""`python -m ops <command>`: the operator tools (see `ops/__init__.py`)."""

from __future__ import annotations

import argparse
import sys

from ops import r2_cors, r2_lifecycle, redrive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    redrive.add_arguments(
        commands.add_parser(
            "redrive",
            help="replay a failure queue's batches through its consumer",
            description=(redrive.__doc__ or "").split("\n\n")[0],
        )
    )
    commands.add_parser(
        "r2-lifecycle",
        help="expire never-completed direct uploads in the R2 bucket (R2_* env)",
        description=(r2_lifecycle.__doc__ or "").split("\n\n")[0],
    )
    commands.add_parser(
        "r2-cors",
        help="let browsers on CORS_ALLOWED_ORIGINS PUT direct uploads to the R2 bucket",
        description=(r2_cors.__doc__ or "").split("\n\n")[0],
    )
    args = parser.parse_args(argv)
    run = {"redrive": redrive.run, "r2-lifecycle": r2_lifecycle.run, "r2-cors": r2_cors.run}
    return run[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
