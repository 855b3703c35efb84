"""`profile-photos`: the SDK from a shell.

    profile-photos upload FILE [--crop L,T,S]
                                          upload a photo (progress bar on stderr)
    profile-photos download [ID] [--size S] [--square] [-o FILE]
                                          download your current photo, or one by asset id
    profile-photos url USER [--size S] [--square]
                                          print the signed URL of USER's current photo
    profile-photos photos                 list your active photos, newest first
    profile-photos set-crop ID L,T,S      choose the square your photo's avatars are cut from
    profile-photos export DIR             download every photo of yours into DIR
    profile-photos delete ID              erase one of your photos
    profile-photos completion bash|zsh    print a shell completion script

A crop `L,T,S` is the square's left and top edge and its side, in pixels of the upright photo
(as an image viewer shows it): inside the photo, side at least 32. `--square` asks for the
square rendition of a size (SMALL, MEDIUM or LARGE), cut from that crop; without a crop of
yours, the service frames it around the faces it finds, else the photo's centre.

Configured by PROFILE_PHOTOS_URL (the API's URL) and PROFILE_PHOTOS_TOKEN (a bearer JWT), or
--url / --token. The options every command shares (--url, --token, --json, -q) go before or
after the command's name: a user adds one at the end of the line they just typed.

Exit codes (one per kind of outcome, so a script can tell them apart):
0 done; 1 the service refused (its code and message are printed); 2 usage or configuration
(a bad option, an empty --token, a missing file: nothing was sent); 3 the service could not be
reached, or the network failed mid-request; 130 interrupted.

With --json, stdout carries exactly one JSON object per command, on success and on failure
(`{"error": {"code", "message", "status"}}`), and the one line for people still goes to
stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

from profile_photos_client import __version__
from profile_photos_client.client import ProfilePhotosClient
from profile_photos_client.completion import DIRECTORIES, FILES, SHELLS, script
from profile_photos_client.errors import NETWORK_ERROR, ProfilePhotosError, ServiceUnreachable
from profile_photos_client.models import SIZES, SQUARE_SIZES, Crop

PROG = "profile-photos"
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
USAGE_ERROR = "USAGE_ERROR"  # the JSON error code of exit 2
BAR_WIDTH = 30
CROP = re.compile(r"\s*([0-9]{1,9})\s*,\s*([0-9]{1,9})\s*,\s*([0-9]{1,9})\s*")


class UsageError(Exception):
    """Bad usage or configuration, found before anything was sent (exit 2). `usage` is the
    command's usage line, shown above the message when argparse found the mistake."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class Refused(Exception):
    """An answer the CLI reports as a refusal (exit 1) though the request succeeded, such as
    a user without a photo."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so a usage error is reported like every
    other failure (and as JSON under --json)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())


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


def _crop(text: str) -> tuple[int, int, int]:
    """`L,T,S` as three whole numbers; whether the square fits the photo is the service's
    to say (it knows the photo's upright size)."""
    found = CROP.fullmatch(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"a crop is LEFT,TOP,SIDE in pixels (three whole numbers, e.g. 120,40,512), "
            f"not {text!r}"
        )
    left, top, side = (int(group) for group in found.groups())
    return left, top, side


def _crop_text(crop: Crop | None) -> str:
    """`  crop L,T,S SOURCE` for a listing line; nothing before the service has framed it."""
    return f"  crop {crop.left},{crop.top},{crop.side} {crop.source}" if crop else ""


def _size_options(parser: argparse.ArgumentParser, default: str) -> None:
    """`--size` and `--square`, the shape of a photo a command fetches or prints."""
    parser.add_argument(
        "--size",
        default=default,
        type=str.upper,
        choices=SIZES,
        help=f"ORIGINAL (the stored file) or a WebP rendition (default: {default})",
    )
    parser.add_argument(
        "--square",
        action="store_true",
        help=f"the size x size square cut from the photo's crop ({', '.join(SQUARE_SIZES)})",
    )


def _completes(action: argparse.Action, kind: str) -> None:
    """Tell the completion scripts that `action`'s value names a file or a directory."""
    setattr(action, "complete", kind)  # noqa: B010 (argparse.Action declares no such field)


def _shared_options(parser: argparse.ArgumentParser, *, in_command: bool) -> None:
    """The options every command takes. In a command's own parser they default to
    SUPPRESS, so one given before the command is not reset by the command's parser."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if in_command else value

    parser.add_argument(
        "--url", default=default(None), help="the API's URL (default: $PROFILE_PHOTOS_URL)"
    )
    parser.add_argument(
        "--token", default=default(None), help="bearer JWT (default: $PROFILE_PHOTOS_TOKEN)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print one JSON object on stdout (errors too)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default(False), help="no progress bar"
    )


def parser() -> argparse.ArgumentParser:
    main = _Parser(
        prog=PROG,
        description="Upload, download, list, export and erase profile photos.",
        epilog="Environment: PROFILE_PHOTOS_URL, PROFILE_PHOTOS_TOKEN. Exit codes: 0 done, "
        "1 refused by the service, 2 usage or configuration, 3 service unreachable or network "
        "failure, 130 interrupted.",
    )
    main.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _shared_options(main, in_command=False)
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        _shared_options(sub, in_command=True)
        return sub

    upload = command("upload", "upload a photo; it becomes your current photo")
    _completes(upload.add_argument("file", metavar="FILE", type=Path), FILES)
    upload.add_argument(
        "--crop",
        metavar="L,T,S",
        type=_crop,
        help="the square its avatars are cut from: left, top and side in pixels of the "
        "upright photo (default: framed around the faces found, else the centre)",
    )
    download = command(
        "download", "download your current photo, or one of your active photos by asset id"
    )
    download.add_argument("asset_id", metavar="ID", nargs="?", help="default: current photo")
    _size_options(download, "ORIGINAL")
    _completes(
        download.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="file or directory to write (default: the stored name in the current "
            "directory; - for stdout)",
        ),
        FILES,
    )
    url = command("url", "print the signed URL of a user's current photo")
    url.add_argument("user", metavar="USER")
    _size_options(url, "ORIGINAL")
    command("photos", "list your active photos, newest first")
    set_crop = command(
        "set-crop",
        "choose the square one of your photos' avatars are cut from; prints its new square URL",
    )
    set_crop.add_argument("asset_id", metavar="ID")
    set_crop.add_argument(
        "crop",
        metavar="L,T,S",
        type=_crop,
        help="left, top and side in pixels of the upright photo (inside it, side >= 32)",
    )
    set_crop.add_argument(
        "--size",
        default="MEDIUM",
        type=str.upper,
        choices=SQUARE_SIZES,
        help="the size of the square URL printed (default: MEDIUM)",
    )
    export = command("export", "download every photo of yours into DIR")
    _completes(export.add_argument("directory", metavar="DIR", type=Path), DIRECTORIES)
    delete = command("delete", "erase one of your photos")
    delete.add_argument("asset_id", metavar="ID")
    completion = command("completion", "print a shell completion script")
    completion.add_argument("shell", choices=SHELLS)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in words  # known before parsing, so a usage error is JSON too
    try:
        args = parser().parse_args(words)
        as_json = bool(args.json)
        if args.command == "completion":
            sys.stdout.write(script(parser(), args.shell))
            return EXIT_OK
        base_url, token = _configuration(args)
        with ProfilePhotosClient(base_url, token) as client:
            return run(client, args)
    except UsageError as error:
        sys.stderr.write(error.usage)
        return _fail(str(error), EXIT_USAGE, as_json, USAGE_ERROR)
    except ServiceUnreachable as error:
        return _fail(error.message, EXIT_UNREACHABLE, as_json, error.code)
    except ProfilePhotosError as error:
        code = EXIT_UNREACHABLE if error.code == NETWORK_ERROR else EXIT_REFUSED
        return _fail(str(error), code, as_json, error.code, error.message, error.status)
    except Refused as error:
        return _fail(str(error), EXIT_REFUSED, as_json, error.code)
    except (OSError, ValueError) as error:
        return _fail(str(error), EXIT_USAGE, as_json, USAGE_ERROR)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED, as_json, "INTERRUPTED")


def _fail(
    line: str,
    exit_code: int,
    as_json: bool,
    code: str,
    message: str | None = None,
    status: int | None = None,
) -> int:
    """Report a failure: one line on stderr, and under --json the error object on stdout."""
    print(f"{PROG}: {line}", file=sys.stderr)
    if as_json:
        error = {"code": code, "message": message or line, "status": status}
        sys.stdout.write(json.dumps({"error": error}) + "\n")
    return exit_code


def _configuration(args: argparse.Namespace) -> tuple[str, str]:
    """The service's URL and the token: an option wins over the environment, and an option
    given empty is a mistake (never a silent fall back to the environment)."""
    values: dict[str, str] = {}
    for option, variable in (("url", "PROFILE_PHOTOS_URL"), ("token", "PROFILE_PHOTOS_TOKEN")):
        given = getattr(args, option)
        if given is not None and not given.strip():
            raise UsageError(f"--{option} is empty")
        values[variable] = (given if given is not None else os.environ.get(variable, "")).strip()
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise UsageError(f"set {' and '.join(missing)} (or pass --url/--token)")
    base_url, token = values["PROFILE_PHOTOS_URL"], values["PROFILE_PHOTOS_TOKEN"]
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError("the service's URL must start with http:// or https://")
    if any(c.isspace() for c in token):
        raise UsageError("the token contains spaces or line breaks (a JWT has none)")
    return base_url, token


def run(client: ProfilePhotosClient, args: argparse.Namespace) -> int:
    out = sys.stdout

    def emit(result: dict[str, Any], line: str) -> None:
        out.write(json.dumps(_plain(result)) + "\n" if args.json else line)

    if args.command == "upload":
        if not args.file.is_file():
            raise ValueError(f"{args.file}: no such file")
        bar = None if args.quiet else Bar(args.file.name, sys.stderr)
        uploaded = client.upload(args.file, on_progress=bar, crop=args.crop)
        emit(
            asdict(uploaded),
            f"uploaded {uploaded.asset_id} ({uploaded.size} bytes, {uploaded.content_type})\n"
            f"{uploaded.upload_url}\n",
        )
    elif args.command == "download":
        to_stdout = args.output == "-"
        if to_stdout and args.json:
            raise UsageError("-o - writes the photo to stdout, which --json needs")
        target = sys.stdout.buffer if to_stdout else args.output
        got = client.download(target, asset_id=args.asset_id, size=args.size, square=args.square)
        if to_stdout:
            sys.stdout.buffer.flush()
        else:
            emit(asdict(got), f"downloaded {got.path} ({got.size} bytes, {got.content_type})\n")
    elif args.command == "url":
        found = client.profile_photo_url(args.user, size=args.size, square=args.square)
        if found is None:
            raise Refused("NOT_FOUND", f"{args.user} has no profile photo")
        emit(
            {"user": args.user, "size": args.size, "square": args.square, "url": found},
            found + "\n",
        )
    elif args.command == "photos":
        photos = client.photos()
        emit(
            {"photos": [asdict(p) for p in photos]},
            "".join(
                f"{p.asset_id}  {_plain(p.uploaded_at)}  {p.size:>8}  {p.content_type}"
                f"{_crop_text(p.crop)}\n"
                for p in photos
            ),
        )
    elif args.command == "set-crop":
        photo = client.set_crop(args.asset_id, *args.crop, size=args.size)
        crop = photo.crop
        shown = f"{crop.left},{crop.top},{crop.side} ({crop.source})" if crop else "set"
        emit(asdict(photo), f"crop of {photo.asset_id}: {shown}\n{photo.url}\n")
    elif args.command == "export":
        bar = None if args.quiet else Bar("export", sys.stderr, unit="photos")
        export = client.export(args.directory, on_progress=bar)
        emit(asdict(export), f"exported {export.count} photo(s) to {export.directory}\n")
    elif args.command == "delete":
        result = client.delete(args.asset_id)
        current = result.current_photo.asset_id if result.current_photo else "none"
        emit(
            asdict(result),
            f"deleted {', '.join(result.deleted_asset_ids)}; current photo: {current}\n",
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
