"""`profile-photos`: the SDK from a shell.

    profile-photos upload FILE        upload a photo (progress bar on stderr)
    profile-photos url USER [--size]  print the signed URL of USER's current photo
    profile-photos photos             list your active photos, newest first
    profile-photos export DIR         download every photo of yours into DIR
    profile-photos delete ID          erase one of your photos

Configured by PROFILE_PHOTOS_URL (the API's URL) and PROFILE_PHOTOS_TOKEN (a bearer JWT),
or --url / --token. Exit codes: 0 done, 1 the service refused (its code and message are
printed), 2 bad usage or configuration, 3 the service could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from profile_photos_client.client import ProfilePhotosClient
from profile_photos_client.errors import NETWORK_ERROR, ProfilePhotosError
from profile_photos_client.models import SIZES

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
BAR_WIDTH = 30


class Bar:
    """A plain progress bar on stderr: redrawn in place on a terminal, a line per 10% when
    stderr is a file or pipe."""

    def __init__(self, label: str, stream: TextIO, *, unit: str = "bytes") -> None:
        self.label, self.stream, self.unit = label, stream, unit
        self.tty = stream.isatty()
        self.shown = -1
        self.drawn_at = 0.0

    def __call__(self, done: int, total: int) -> None:
        percent = 100 if total <= 0 else done * 100 // total
        step = percent if self.tty else percent // 10 * 10
        now = time.monotonic()
        if step == self.shown or (self.tty and percent < 100 and now - self.drawn_at < 0.05):
            return
        self.shown, self.drawn_at = step, now
        filled = BAR_WIDTH * percent // 100
        amount = (
            f"{_mb(done)}/{_mb(total)} MB"
            if self.unit == "bytes"
            else f"{done}/{total} {self.unit}"
        )
        line = f"{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}% {amount}"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and percent >= 100:
            self.stream.write("\n")
        self.stream.flush()


def _mb(count: int) -> str:
    return f"{count / 1_000_000:.1f}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="profile-photos",
        description="Upload, list, export and erase profile photos.",
        epilog="Environment: PROFILE_PHOTOS_URL, PROFILE_PHOTOS_TOKEN. "
        "Exit codes: 0 done, 1 refused by the service, 2 usage, 3 unreachable.",
    )
    main.add_argument("--url", help="the API's URL (default: $PROFILE_PHOTOS_URL)")
    main.add_argument("--token", help="bearer JWT (default: $PROFILE_PHOTOS_TOKEN)")
    main.add_argument("--json", action="store_true", help="print results as JSON")
    main.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    upload = commands.add_parser("upload", help="upload a photo")
    upload.add_argument("file", metavar="FILE", type=Path)
    url = commands.add_parser("url", help="print the signed URL of a user's current photo")
    url.add_argument("user", metavar="USER")
    url.add_argument("--size", default="ORIGINAL", type=str.upper, choices=SIZES)
    commands.add_parser("photos", help="list your active photos, newest first")
    export = commands.add_parser("export", help="download every photo of yours into DIR")
    export.add_argument("directory", metavar="DIR", type=Path)
    delete = commands.add_parser("delete", help="erase one of your photos")
    delete.add_argument("asset_id", metavar="ID")
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    base_url = args.url or os.environ.get("PROFILE_PHOTOS_URL", "")
    token = args.token or os.environ.get("PROFILE_PHOTOS_TOKEN", "")
    missing = [
        name
        for name, value in (("PROFILE_PHOTOS_URL", base_url), ("PROFILE_PHOTOS_TOKEN", token))
        if not value
    ]
    if missing:
        print(
            f"profile-photos: set {' and '.join(missing)} (or pass --url/--token)", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        with ProfilePhotosClient(base_url, token) as client:
            return run(client, args)
    except ProfilePhotosError as error:
        print(f"profile-photos: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE if error.code == NETWORK_ERROR else EXIT_REFUSED
    except (OSError, ValueError) as error:
        print(f"profile-photos: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("profile-photos: interrupted", file=sys.stderr)
        return 130


def run(client: ProfilePhotosClient, args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.command == "upload":
        if not args.file.is_file():
            raise ValueError(f"{args.file}: no such file")
        bar = None if args.quiet else Bar(args.file.name, sys.stderr)
        uploaded = client.upload(args.file, on_progress=bar)
        if args.json:
            out.write(json.dumps(_plain(asdict(uploaded))) + "\n")
        else:
            out.write(
                f"uploaded {uploaded.asset_id} ({uploaded.size} bytes, {uploaded.content_type})\n"
            )
            out.write(f"{uploaded.upload_url}\n")
    elif args.command == "url":
        found = client.profile_photo_url(args.user, size=args.size)
        if found is None:
            print(f"profile-photos: {args.user} has no profile photo", file=sys.stderr)
            return EXIT_REFUSED
        out.write(json.dumps({"url": found}) + "\n" if args.json else found + "\n")
    elif args.command == "photos":
        photos = client.photos()
        if args.json:
            out.write(json.dumps(_plain([asdict(p) for p in photos])) + "\n")
        for photo in [] if args.json else photos:
            when = _plain(photo.uploaded_at)
            out.write(f"{photo.asset_id}  {when}  {photo.size:>8}  {photo.content_type}\n")
    elif args.command == "export":
        bar = None if args.quiet else Bar("export", sys.stderr, unit="photos")
        export = client.export(args.directory, on_progress=bar)
        if args.json:
            out.write(json.dumps(_plain(asdict(export))) + "\n")
        else:
            out.write(f"exported {export.count} photo(s) to {export.directory}\n")
    elif args.command == "delete":
        result = client.delete(args.asset_id)
        if args.json:
            out.write(json.dumps(_plain(asdict(result))) + "\n")
        else:
            current = result.current_photo.asset_id if result.current_photo else "none"
            out.write(f"deleted {', '.join(result.deleted_asset_ids)}; current photo: {current}\n")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
