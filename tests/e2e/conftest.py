"""Start the local stack as a user would (`python -m devstack`, what `make dev` runs) on a free
port with a temporary `DEV_DATA_DIR`, and talk to it over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from testkit.openapi import OpenApi
from testkit.stack_state import StackProcess

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SIZES = ("small", "medium", "large")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """This tier is `slow` (real processes over real HTTP): `-m 'not slow'` leaves it out."""
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)


class RunningStack(StackProcess):
    """A stack of the e2e suite: its responses are checked against openapi.yaml."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(data_dir, extra_env)
        STACK_URLS.add(self.url)

    @property
    def banner(self) -> str:
        return "".join(self.output)

    def objects(self) -> list[Path]:
        root = self.data_dir / "object-storage"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def settled_objects(self, timeout: float = 60.0) -> list[Path]:
        """Every stored file, once each stored photo has its renditions (each size and its
        square, the LARGE square written last): the stream makes them asynchronously, so a
        comparison of before and after waits for them."""
        deadline = time.time() + timeout
        while True:
            found = self.objects()
            names = {path.name for path in found}
            originals = [
                path
                for path in found
                if path.parent.name == "profile-picture" and path.name.count(".") == 1
            ]
            pending = [
                path
                for path in originals
                if any(f"{path.stem}.{size}.webp" not in names for size in SIZES)
                or not any(
                    name.startswith(f"{path.stem}.large.sq") and name.endswith(".webp")
                    for name in names
                )
            ]
            if not pending or time.time() > deadline:
                return found
            time.sleep(0.2)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return requests.post(f"{self.url}{path}", timeout=30, **kwargs)  # type: ignore[arg-type]


def processes_using(data_dir: Path) -> list[int]:
    """Pids whose environment names `data_dir`: the stack and its workers."""
    marker = f"DEV_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# -- every REST response of the e2e suite against openapi.yaml --------------------------------

STACK_URLS: set[str] = set()  # every RunningStack's base URL
# the local stack's own routes (devstack.server): not part of the deployed API's document
LOCAL_ONLY = ("/", "/docs", "/openapi.json", "/dev/token", "/favicon.ico")


def check_against_openapi(request: requests.PreparedRequest, response: requests.Response) -> None:
    """Raise unless `openapi.yaml` describes `response` (a route of the document), or it is
    the envelope (anything else the API answers, e.g. an unknown route's 404)."""
    url = str(request.url)
    base = next((b for b in STACK_URLS if url == b or url.startswith(b + "/")), None)
    if base is None:
        return  # another server: moto standing in for R2, a redirect's target
    path = urlsplit(url).path or "/"
    if path in LOCAL_ONLY or path.startswith("/web/"):
        return
    method = str(request.method)
    spec = OpenApi.load()
    if spec.operation(method, path) is None:
        spec.check_error(response.status_code, response.headers, response.content, path)
    else:
        spec.check(method, path, response.status_code, response.headers, response.content)


@pytest.fixture(autouse=True)
def responses_match_openapi(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every response of a running stack that a test receives through `requests` (the
    module functions and sessions alike, the SDK's too) is checked against the document."""
    send = requests.Session.send

    def checked(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        response = send(self, request, **kwargs)
        if not kwargs.get("stream"):
            # each hop of a followed redirect with the request that got it
            for hop in [*response.history, response]:
                check_against_openapi(hop.request, hop)
        return response

    monkeypatch.setattr(requests.Session, "send", checked)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One stack per pytest worker, for every module that needs nothing of its own: each
    test signs in as its own users, so none sees another's photos, budgets or history. A
    module that configures its stack, stops it, or asserts on what the whole stack holds
    (its staging folder, its stream's failures, nothing left the moment an erasure answers)
    starts its own."""
    running = RunningStack(tmp_path_factory.mktemp("stack-data"))
    yield running
    running.stop()


# --- web clients (tests/e2e/test_browser.py, test_node_client.py) ---------------------------
# An origin a web app elsewhere would have (the Node example claims it), and clients/web served
# by a plain static server on another loopback port: the stack allows both through CORS.
WEB_ORIGIN = "http://app.example.test"
WEB_ROOT = ROOT / "clients" / "web"


@pytest.fixture(scope="session")
def web_site() -> Iterator[str]:
    """clients/web on its own loopback port (`python -m http.server -d clients/web`): its URL."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(WEB_ROOT))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def cors_stack(tmp_path_factory: pytest.TempPathFactory, web_site: str) -> Iterator[RunningStack]:
    """A stack whose CORS_ALLOWED_ORIGINS has WEB_ORIGIN and the `web_site` origin (one for
    the browser and the Node tests: each of their tests uses its own user)."""
    origins = f"{WEB_ORIGIN},{web_site}"
    running = RunningStack(
        tmp_path_factory.mktemp("cors-stack-data"), {"CORS_ALLOWED_ORIGINS": origins}
    )
    yield running
    running.stop()
