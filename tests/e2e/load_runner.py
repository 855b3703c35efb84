"""Load and soak: `make load` (and, short, tests/e2e/test_load.py).

One file: the simulated user, the invariants it is judged by and the soak share one model of
what a user was told (UserModel) and one report; split, each half would import the other's
private parts.

N simulated users, one thread each (a user's requests are sequential, as one client's are;
the users run concurrently), hit the local stack for a fixed time with a weighted mix:
multipart uploads of JPEG/PNG/WebP/HEIC/GIF, small and 0.7-2 MB (testkit.images), direct
uploads (upload-url, PUT, complete), views through signed URLs (their own photos' and other
users' current photo), GraphQL reads, restores of archived photos and deletes. The stack is
started by the tool on loopback with a temporary data dir, or an already running one is
used (`--data-dir` of a `make dev`: its devstack.json names the API and DynamoDB).

The rate limits are set low enough that uploads are refused (429 is correct behaviour and
counted, not an error) and high enough that most work is accepted. After the run the stream
is left to settle, then the invariants are checked against the stack's tables and files:

- acknowledged: every acknowledged upload is present (row and file), unless its owner's
  delete was acknowledged, and then row, file and renditions are gone;
- retention: each user's active photos are the most recently activated (uploaded or
  restored, in acknowledgement order) of those not deleted, newest first, at most
  RETENTION_ACTIVE_LIMIT of them, and exactly that many for a user who deleted nothing; each
  delete may leave one fewer, because retention only archives (SPEC: it runs after a new or
  restored photo): a delete that lands after retention archived the photo beyond the limit
  does not bring it back, one that lands before leaves it active. The user's current photo is
  the newest of them;
- orphans: no photo file without its row, no row without its file, no rendition without
  its photo;
- rate limits: each minute's and hour's counter in the rate-limits table is within its
  limit, and the units of the accepted requests that certainly fell in a window (sent and
  answered inside it) never exceed that window's counter;
- no 5xx (a view's 503 with `Retry-After` while its size is being made is followed, as a
  client should, and only one that outlasts the retries counts), no connection failure, no
  ERROR line or traceback in the stack's output.

Prints throughput, p50/p95/p99 latency per operation and responses by status, writes them
with the invariants' results as JSON (bench/results/load-latest.json by default) and exits
1 when an invariant breaks.

Soak (`--soak N`, `make load SOAK=2000`): one stack of its own, N photos of ~850 KB uploaded
one after another (the pattern that once took the stack from 192 to 1,108 MB RSS in 400
uploads, each slower than the last), the stack's main-process RSS and each upload's time
sampled. Each user keeps at most `SOAK_KEEP` photos (older ones are deleted through GraphQL),
so the data the stack holds stops growing after the warm-up: moto keeps its tables in
memory, and a photo's rows are data, not a leak. After a warm-up of N/8 uploads, the mean
RSS and the mean upload time of the last N/4 uploads must stay within 1.2x of the first N/4
after warm-up; the figures per tenth of the run are printed and written as JSON
(bench/results/soak-latest.json); exit 1 when either grew.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from devkit.token import make_token
from testkit import images
from testkit.stack_state import StackProcess, StackReader, StackState, error_lines

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "bench" / "results" / "load-latest.json"
API = "/api/storage/profile-photo"
MIB = 1024 * 1024
RENDER_RETRIES = 4  # tries of a signed URL whose size is being made (503 + Retry-After)
WEIGHTS = {
    "upload": 30,
    "direct_upload": 8,
    "view": 22,
    "graphql_read": 22,
    "restore": 10,
    "delete": 8,
}
ME = "{ me { id profilePhotoUrl profilePhotos { assetId url uploadedAt } } }"
USER_QUERY = "query ($id: ID!) { user(id: $id) { id profilePhotoUrl(size: SMALL) } }"
RESTORE = (
    "mutation ($id: ID!) { restoreProfilePhoto(assetId: $id) { photo { assetId uploadedAt } } }"
)
DELETE = "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedAssetIds } }"


def payloads() -> list[tuple[str, str, bytes]]:
    """(file name, MIME type, bytes): small files of every type and a few 0.7-2 MB photos
    (1 to 2 rate-limit units each)."""
    return [
        ("small.jpg", "image/jpeg", images.jpeg_bytes()),
        ("small.png", "image/png", images.png_bytes()),
        ("small.webp", "image/webp", images.webp_bytes()),
        ("small.heic", "image/heic", images.heic_bytes()),
        ("small.gif", "image/gif", images.gif_bytes()),
        ("phone.jpg", "image/jpeg", images.camera_jpeg(2000, 1500)),
        ("big.jpg", "image/jpeg", images.camera_jpeg(3000, 2250, quality=92)),
        ("big.png", "image/png", images.encode(images.photographic(1000, 750, seed=4), "PNG")),
        (
            "big.webp",
            "image/webp",
            images.encode(images.photographic(1800, 1350, seed=3), "WEBP", quality=92),
        ),
    ]


def _said(response: requests.Response | None) -> str:
    """Status and body start (a 4xx Response is falsy: never `response and ...`)."""
    return "no response" if response is None else f"{response.status_code} {response.text[:200]}"


def cost(size: int) -> int:
    return max(1, math.ceil(size / MIB))


@dataclass
class Sample:
    op: str
    status: int
    started: float
    ended: float
    units: int = 0  # rate-limit units an accepted request was charged


@dataclass
class UserModel:
    """What one simulated user was told by the service."""

    user_id: str
    activations: list[str] = field(default_factory=list)  # asset ids, acknowledgement order
    acknowledged: dict[str, str] = field(default_factory=dict)  # asset id -> fileKey
    deleted: set[str] = field(default_factory=set)
    deletes: int = 0  # acknowledged deleteProfilePhoto mutations
    urls: dict[str, str] = field(default_factory=dict)  # asset id -> signed URL

    def alive(self) -> list[str]:
        return [a for a in self.acknowledged if a not in self.deleted]

    def expected_active(self, limit: int) -> list[str]:
        """The `limit` most recently activated photos not deleted, newest first."""
        seen: list[str] = []
        for asset in reversed(self.activations):
            if asset not in self.deleted and asset not in seen:
                seen.append(asset)
        return seen[:limit]

    def fewest_active(self, limit: int) -> int:
        """How many photos at least are active once retention settled: each delete may
        have removed an active photo after retention archived the one that would replace it."""
        return max(0, min(limit, len(self.alive())) - self.deletes)


class SimulatedUser(threading.Thread):
    def __init__(self, run: LoadRun, index: int) -> None:
        super().__init__(daemon=True, name=f"load-user-{index}")
        self.run_ = run
        self.model = UserModel(f"load-user-{index}")
        self.random = random.Random(run.seed * 1000 + index)
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + make_token(
            self.model.user_id, f"Load {index}", ttl=24 * 3600
        )
        self.samples: list[Sample] = []
        self.failures: list[str] = []
        self.pending = 0  # views answered "being made, retry after N s"

    # -- plumbing --------------------------------------------------------------------------

    def fetch_photo(self, url: str) -> requests.Response | None:
        """GET a signed URL as a well-behaved client does: a size still being made answers
        503 with `Retry-After` (the contract's answer while another request renders it), so
        ask again after that many seconds, a few times; only a 503 that outlasts them, or one
        without `Retry-After`, is a failure."""
        for _ in range(RENDER_RETRIES):
            response = self.request("view", "GET", url, headers={"Authorization": ""}, pending=True)
            if response is None or response.status_code != 503:
                return response
            retry_after = response.headers.get("Retry-After", "")
            if not retry_after.isdigit():
                self.failures.append(f"view: 503 without Retry-After {response.text[:200]}")
                return response
            self.pending += 1
            time.sleep(int(retry_after))
        self.failures.append(f"view: still 503 after {RENDER_RETRIES} tries {response.text[:200]}")
        return response

    def request(
        self, op: str, method: str, url: str, *, pending: bool = False, **kwargs: Any
    ) -> requests.Response | None:
        """One request, timed; a 5xx is a failure unless `pending` (a size being made:
        `fetch_photo` decides)."""
        started = time.time()
        try:
            response = self.session.request(method, url, timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.samples.append(Sample(op, 0, started, time.time()))
            self.failures.append(f"{op}: {type(exc).__name__}: {exc}")
            return None
        self.samples.append(Sample(op, response.status_code, started, time.time()))
        if response.status_code >= 500 and not (pending and response.status_code == 503):
            self.failures.append(f"{op}: {response.status_code} {response.text[:200]}")
        return response

    def charged(self, units: int) -> None:
        self.samples[-1].units = units

    def gql(self, op: str, query: str, **variables: str) -> dict[str, Any] | None:
        response = self.request(
            op, "POST", self.run_.url + "/graphql", json={"query": query, "variables": variables}
        )
        if response is None or response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
        if codes:
            self.samples[-1].status = 429 if "RATE_LIMITED" in codes else 400
            if any(code not in ("RATE_LIMITED", "NOT_FOUND") for code in codes):
                self.failures.append(f"{op}: unexpected GraphQL errors {body['errors']}")
        return body

    def acknowledge(self, data: dict[str, Any]) -> None:
        asset = data["assetId"]
        self.model.acknowledged[asset] = data["fileKey"]
        self.model.activations.append(asset)
        self.model.urls[asset] = data["uploadUrl"]

    # -- operations ------------------------------------------------------------------------

    def upload(self) -> None:
        name, mime, data = self.random.choice(self.run_.files)
        response = self.request(
            "upload", "POST", self.run_.url + f"{API}/upload", files={"file": (name, data, mime)}
        )
        if response is not None and response.status_code == 201:
            self.charged(cost(len(data)))
            self.acknowledge(response.json()["data"])
        elif response is not None and response.status_code != 429:
            self.failures.append(f"upload {name}: {response.status_code} {response.text[:200]}")

    def direct_upload(self) -> None:
        name, mime, data = self.random.choice(self.run_.files)
        grant = self.request(
            "upload_url",
            "POST",
            self.run_.url + f"{API}/upload-url",
            json={"fileName": name, "contentType": mime, "size": len(data)},
        )
        if grant is None or grant.status_code != 201:
            if grant is not None and grant.status_code != 429:
                self.failures.append(f"upload-url: {grant.status_code} {grant.text[:200]}")
            return
        self.charged(cost(len(data)))
        granted = grant.json()["data"]
        put = self.request(
            "direct_put",
            granted["method"],
            granted["uploadUrl"],
            data=data,
            headers={**granted["headers"], "Authorization": ""},
        )
        if put is None or put.status_code >= 300:
            self.failures.append(f"direct PUT: {_said(put)}")
            return
        done = self.request(
            "complete",
            "POST",
            self.run_.url + f"{API}/complete",
            json={"fileKey": granted["fileKey"]},
        )
        if done is not None and done.status_code == 201:
            self.acknowledge(done.json()["data"])
        else:
            self.failures.append(
                f"complete: {done and done.status_code} {done and done.text[:200]}"
            )

    def view(self) -> None:
        mine = [a for a in self.model.alive() if a in self.model.urls]
        if mine and self.random.random() < 0.6:
            asset = self.random.choice(mine)
            response = self.fetch_photo(self.model.urls[asset])
            if response is not None and response.status_code != 200:
                self.failures.append(f"view own {asset}: {response.status_code}")
            return
        other = f"load-user-{self.random.randrange(self.run_.users)}"
        body = self.gql("graphql_read", USER_QUERY, id=other)
        url = ((body or {}).get("data") or {}).get("user") or {}
        if url.get("profilePhotoUrl"):
            # the owner may delete it meanwhile: 404 is then the right answer
            response = self.fetch_photo(url["profilePhotoUrl"])
            if response is not None and response.status_code not in (200, 404, 503):
                self.failures.append(f"view other's: {response.status_code} {response.text[:200]}")

    def graphql_read(self) -> None:
        body = self.gql("graphql_read", ME)
        if body is not None and body.get("data"):
            for photo in body["data"]["me"]["profilePhotos"]:
                self.model.urls.setdefault(photo["assetId"], photo["url"])

    def restore(self) -> None:
        archived = [
            a
            for a in self.model.alive()
            if a not in self.model.expected_active(self.run_.active_limit)
        ]
        if not archived:
            return self.graphql_read()
        asset = self.random.choice(archived)
        body = self.gql("restore", RESTORE, id=asset)
        data = ((body or {}).get("data") or {}).get("restoreProfilePhoto")
        if data:
            self.charged(1)
            self.model.activations.append(asset)
        return None

    def delete(self) -> None:
        alive = self.model.alive()
        if len(alive) < 2:
            return self.upload()
        asset = self.random.choice(alive)
        body = self.gql("delete", DELETE, id=asset)
        data = ((body or {}).get("data") or {}).get("deleteProfilePhoto")
        if data:
            self.charged(1)
            self.model.deleted.update(data["deletedAssetIds"])
            self.model.deletes += 1
        return None

    def run(self) -> None:
        ops = list(WEIGHTS)
        weights = [WEIGHTS[op] for op in ops]
        while time.time() < self.run_.deadline:
            op = self.random.choices(ops, weights)[0]
            try:
                getattr(self, op)()
            except Exception as exc:
                self.failures.append(f"{op}: {type(exc).__name__}: {exc}")


@dataclass
class LoadRun:
    url: str
    users: int
    duration: float
    seed: int
    active_limit: int
    per_minute: int
    per_hour: int
    files: list[tuple[str, str, bytes]] = field(default_factory=payloads)
    deadline: float = 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[rank]


def figures(samples: list[Sample], elapsed: float) -> dict[str, Any]:
    by_op: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_op[sample.op].append(sample)
    operations = {}
    for op, found in sorted(by_op.items()):
        latencies = [(s.ended - s.started) * 1000 for s in found]
        operations[op] = {
            "count": len(found),
            "per_second": round(len(found) / elapsed, 2),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "mean_ms": round(statistics.fmean(latencies), 1),
            "statuses": dict(sorted(Counter(str(s.status) for s in found).items())),
        }
    return {
        "requests": len(samples),
        "seconds": round(elapsed, 1),
        "throughput_per_second": round(len(samples) / elapsed, 2),
        "statuses": dict(sorted(Counter(str(s.status) for s in samples).items())),
        "operations": operations,
    }


def check_invariants(
    run: LoadRun, state: StackState, users: list[SimulatedUser], logged: list[str]
) -> dict[str, list[str]]:
    """Each invariant's violations (an empty list: it holds)."""
    photos = state.rows("photos")
    rows = {(r["userId"], r["assetId"]): r for r in photos}
    files = set(state.files)
    broken: dict[str, list[str]] = {
        "acknowledged": [],
        "retention": [],
        "orphans": [],
        "rate_limits": [],
        "errors": [],
    }
    for user in users:
        model = user.model
        for asset, key in model.acknowledged.items():
            path = f"user-assets/{key}"
            renditions = [f for f in files if f.startswith(path.rsplit(".", 1)[0] + ".")]
            if asset in model.deleted:
                if (model.user_id, asset) in rows or renditions:
                    broken["acknowledged"].append(
                        f"{model.user_id} {asset}: deleted but still stored"
                    )
            elif (model.user_id, asset) not in rows or path not in files:
                broken["acknowledged"].append(f"{model.user_id} {asset}: acknowledged but missing")
        active = sorted(
            (r for r in photos if r["userId"] == model.user_id and not r.get("archived")),
            key=lambda r: r.get("activeSortKey") or "",
            reverse=True,
        )
        expected = model.expected_active(run.active_limit)
        actual = [r["assetId"] for r in active]
        fewest = model.fewest_active(run.active_limit)
        if actual != expected[: len(actual)] or len(actual) < fewest:
            broken["retention"].append(
                f"{model.user_id}: active {actual}, expected {expected}"
                f" (at least {fewest} of them, after {model.deletes} deletes)"
            )
        record = next((u for u in state.rows("users") if u.get("id") == model.user_id), {})
        current = record.get("currentAssetId")
        if (expected[0] if expected else None) != current:
            broken["retention"].append(
                f"{model.user_id}: current {current}, expected {expected[:1] or None}"
            )
    keys = {f"user-assets/{r['fileKey']}" for r in photos}
    for path in keys - files:
        broken["orphans"].append(f"row without file: {path}")
    for path in state.originals():
        if path not in keys:
            broken["orphans"].append(f"file without row: {path}")
    stems = {k.rsplit(".", 1)[0] for k in keys}
    for path in files:
        name = Path(path).name
        rendition = "/profile-picture/" in path and name.count(".") == 2
        if rendition and path.rsplit(".", 2)[0] not in stems:
            broken["orphans"].append(f"rendition without photo: {path}")
    broken["rate_limits"] = rate_limit_violations(run, state, users)
    for user in users:
        broken["errors"] += [f"{user.model.user_id}: {failure}" for failure in user.failures]
    broken["errors"] += [f"stack logged: {line[:300]}" for line in logged]
    return broken


def rate_limit_violations(run: LoadRun, state: StackState, users: list[SimulatedUser]) -> list[str]:
    problems = []
    counters: dict[tuple[str, str, int], int] = {}
    for row in state.rows("ratelimit") or state.rows("rate-limits") or state.rows("rate"):
        _, user, _, hour = row["pk"].split("#")
        hour_index = int(hour)
        counters[(user, "hour", hour_index)] = int(row.get("units") or 0)
        for name, value in row.items():
            if len(name) == 3 and name[0] == "m" and name[1:].isdigit():
                counters[(user, "minute", hour_index * 60 + int(name[1:]))] = int(value)
    for (user, window, index), units in counters.items():
        limit = run.per_minute if window == "minute" else run.per_hour
        if units > limit:
            problems.append(f"{user}: {units} units in {window} {index} > limit {limit}")
    for sim in users:
        certain: Counter[tuple[str, int]] = Counter()
        for sample in sim.samples:
            if not sample.units:
                continue
            for window, seconds in (("minute", 60), ("hour", 3600)):
                start, end = int(sample.started) // seconds, int(sample.ended) // seconds
                if start == end:
                    certain[(window, start)] += sample.units
        for (window, index), units in certain.items():
            limit = run.per_minute if window == "minute" else run.per_hour
            counted = counters.get((sim.model.user_id, window, index), 0)
            if units > min(limit, counted):
                problems.append(
                    f"{sim.model.user_id}: {units} accepted units in {window} {index},"
                    f" counter {counted}, limit {limit}"
                )
    return problems


def settle(
    reader: StackReader, users: list[SimulatedUser], limit: int, timeout: float
) -> StackState:
    """Wait for retention and renditions to catch up with what was acknowledged."""
    deadline = time.time() + timeout
    while True:
        state = reader.settled(timeout=max(1.0, deadline - time.time()))
        active = Counter(r["userId"] for r in state.rows("photos") if not r.get("archived"))
        if all(n <= limit for n in active.values()) or time.time() > deadline:
            return state
        time.sleep(0.5)


def execute(
    run: LoadRun, reader: StackReader
) -> tuple[dict[str, Any], list[SimulatedUser], StackState]:
    users = [SimulatedUser(run, i) for i in range(run.users)]
    started = time.time()
    run.deadline = started + run.duration
    for user in users:
        user.start()
    for user in users:
        user.join()
    elapsed = time.time() - started
    samples = [s for u in users for s in u.samples]
    settle_started = time.time()
    state = settle(reader, users, run.active_limit, timeout=180)
    result = figures(samples, elapsed)
    result["settle_seconds"] = round(time.time() - settle_started, 1)
    return result, users, state


def print_figures(result: dict[str, Any]) -> None:
    print(
        f"load: {result['users']} users, {result['seconds']} s, {result['requests']} requests,"
        f" {result['throughput_per_second']}/s; statuses {result['statuses']}"
    )
    print(
        f"  {'operation':<14}{'count':>7}{'/s':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses"
    )
    for op, f in result["operations"].items():
        print(
            f"  {op:<14}{f['count']:>7}{f['per_second']:>7}{f['p50_ms']:>9}{f['p95_ms']:>9}"
            f"{f['p99_ms']:>9}  {f['statuses']}"
        )
    print(
        f"  acknowledged uploads {result['acknowledged_uploads']}, deleted {result['deleted']},"
        f" restored {result['restored']}, refused by the rate limit {result['rate_limited']},"
        f" asked to retry while a size was made {result.get('render_pending', 0)};"
        f" stream settled in {result['settle_seconds']} s"
    )
    for name, problems in result["invariants"].items():
        verdict = "ok" if not problems else f"BROKEN ({len(problems)})"
        print(f"  invariant {name:<13} {verdict}")
        for problem in problems[:10]:
            print(f"    - {problem}")


SOAK_RESULT = ROOT / "bench" / "results" / "soak-latest.json"
SOAK_USERS = 4
SOAK_KEEP = 5
SOAK_GROWTH = 1.2  # the last quarter against the first quarter after warm-up


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def soak_photo() -> bytes:
    """A ~850 KB photographic JPEG, as in the report that found the leak."""
    return images.encode(images.photographic(1700, 1250, seed=11), "JPEG", quality=95)


def soak_windows(count: int) -> tuple[range, range]:
    """(the first quarter after a warm-up of an eighth, the last quarter), as upload indexes."""
    warm, quarter = count // 8, count // 4
    return range(warm, warm + quarter), range(count - quarter, count)


def soak_verdict(rss: list[float], seconds: list[float]) -> dict[str, Any]:
    first, last = soak_windows(len(rss))

    def ratio(values: list[float]) -> float:
        before = statistics.fmean(values[i] for i in first)
        after = statistics.fmean(values[i] for i in last)
        return round(after / before, 3)

    growth = {"rss": ratio(rss), "upload_seconds": ratio(seconds)}
    return {"growth": growth, "ok": all(g <= SOAK_GROWTH for g in growth.values())}


def soak(count: int, output: Path) -> int:
    """Upload `count` photos one after another to a stack of its own (module docstring)."""
    if count < 16:
        raise SystemExit("--soak needs at least 16 uploads (warm-up and two windows)")
    photo = soak_photo()
    temp = tempfile.TemporaryDirectory(prefix="soak-stack-")
    limits = {"RATE_LIMIT_PER_MINUTE": "1000000", "RATE_LIMIT_PER_HOUR": "1000000"}
    stack = StackProcess(Path(temp.name), limits | {"RETENTION_ACTIVE_LIMIT": str(SOAK_KEEP)})
    tokens = [make_token(f"soak-{n}", f"soak{n}") for n in range(SOAK_USERS)]
    kept: list[list[str]] = [[] for _ in tokens]
    rss: list[float] = []
    seconds: list[float] = []
    failures: list[str] = []
    print(f"soak: {count} uploads of {len(photo) // 1024} KB against {stack.url}", flush=True)
    try:
        with requests.Session() as http:
            for index in range(count):
                user = index % len(tokens)
                auth = {"Authorization": f"Bearer {tokens[user]}"}
                started = time.perf_counter()
                answer = http.post(
                    f"{stack.url}{API}/upload",
                    headers=auth,
                    files={"file": ("soak.jpg", photo, "image/jpeg")},
                    timeout=120,
                )
                seconds.append(time.perf_counter() - started)
                rss.append(rss_mb(stack.process.pid))
                if answer.status_code != 201:
                    failures.append(f"upload {index}: {answer.status_code} {answer.text[:200]}")
                    continue
                kept[user].append(answer.json()["data"]["assetId"])
                if len(kept[user]) > SOAK_KEEP:
                    gone = http.post(
                        f"{stack.url}/graphql",
                        headers=auth,
                        json={"query": DELETE, "variables": {"id": kept[user].pop(0)}},
                        timeout=120,
                    )
                    if gone.status_code != 200 or gone.json().get("errors"):
                        failures.append(f"delete after upload {index}: {gone.text[:200]}")
                if (index + 1) % max(1, count // 10) == 0:
                    tenth = seconds[-max(1, count // 10) :]
                    print(
                        f"  {index + 1:>6} uploads: RSS {rss[-1]:7.1f} MB,"
                        f" mean upload {statistics.fmean(tenth) * 1000:6.0f} ms",
                        flush=True,
                    )
    finally:
        stack.stop()
        temp.cleanup()
    logged = error_lines(stack.output)
    verdict = soak_verdict(rss, seconds)
    first, last = soak_windows(count)
    step = max(1, count // 10)
    result = {
        "uploads": count,
        "photo_bytes": len(photo),
        "users": SOAK_USERS,
        "kept_per_user": SOAK_KEEP,
        "windows": {"first": [first.start, first.stop], "last": [last.start, last.stop]},
        "rss_mb": [round(rss[i], 1) for i in range(step - 1, count, step)],
        "upload_ms": [
            round(statistics.fmean(seconds[i - step + 1 : i + 1]) * 1000)
            for i in range(step - 1, count, step)
        ],
        "failures": failures,
        "errors_logged": logged,
        **verdict,
        "ok": verdict["ok"] and not failures and not logged,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"soak: last {len(last)} uploads against the first {len(first)} after warm-up:"
        f" RSS x{verdict['growth']['rss']}, upload time x{verdict['growth']['upload_seconds']}"
        f" (limit x{SOAK_GROWTH}); {len(failures)} failed requests, {len(logged)} ERROR lines"
    )
    for line in (failures + logged)[:10]:
        print(f"    - {line}")
    print(f"soak: {'flat' if result['ok'] else 'GREW OR FAILED'}; wrote {output}")
    return 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the local stack (make load)")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data-dir", type=Path, help="a running stack's DEV_DATA_DIR (else: start one)"
    )
    parser.add_argument("--per-minute", type=int, default=None, help="RATE_LIMIT_PER_MINUTE [30]")
    parser.add_argument("--per-hour", type=int, default=None, help="RATE_LIMIT_PER_HOUR [1000]")
    parser.add_argument("--active-limit", type=int, default=None, help="RETENTION_ACTIVE_LIMIT [3]")
    parser.add_argument("--output", type=Path, default=None, help=f"[{RESULT.name}]")
    parser.add_argument(
        "--soak",
        type=int,
        metavar="N",
        help="instead: N uploads one after another, RSS and upload time must stay flat",
    )
    args = parser.parse_args(argv)
    if args.soak is not None:
        return soak(args.soak, args.output or SOAK_RESULT)
    args.output = args.output or RESULT
    running = args.data_dir is not None
    # a stack started here gets limits the run runs into; a running one has its own (the
    # defaults of SPEC.md unless its environment, and so this one's, says otherwise)
    defaults = (
        {"RATE_LIMIT_PER_MINUTE": 100, "RATE_LIMIT_PER_HOUR": 1000, "RETENTION_ACTIVE_LIMIT": 5}
        if running
        else {"RATE_LIMIT_PER_MINUTE": 30, "RATE_LIMIT_PER_HOUR": 1000, "RETENTION_ACTIVE_LIMIT": 3}
    )

    def env_or(name: str, given: int | None) -> int:
        return given if given is not None else int(os.environ.get(name) or defaults[name])

    per_minute = env_or("RATE_LIMIT_PER_MINUTE", args.per_minute)
    per_hour = env_or("RATE_LIMIT_PER_HOUR", args.per_hour)
    active_limit = env_or("RETENTION_ACTIVE_LIMIT", args.active_limit)
    files = payloads()
    temp = None
    stack = None
    if running:
        data_dir = args.data_dir.resolve()
    else:
        temp = tempfile.TemporaryDirectory(prefix="load-stack-")
        data_dir = Path(temp.name)
        stack = StackProcess(
            data_dir,
            {
                "RATE_LIMIT_PER_MINUTE": str(per_minute),
                "RATE_LIMIT_PER_HOUR": str(per_hour),
                "RETENTION_ACTIVE_LIMIT": str(active_limit),
            },
        )
    try:
        reader = StackReader(data_dir)
        run = LoadRun(
            reader.api,
            args.users,
            args.duration,
            args.seed,
            active_limit,
            per_minute,
            per_hour,
            files,
        )
        print(
            f"load: {run.users} users for {run.duration:.0f} s against {run.url}"
            f" (limits {per_minute}/min, {per_hour}/h, {active_limit} active)",
            flush=True,
        )
        result, users, state = execute(run, reader)
    finally:
        if stack is not None:
            stack.stop()
        if temp is not None:
            temp.cleanup()
    logged = error_lines(stack.output) if stack is not None else []
    invariants = check_invariants(run, state, users, logged)
    result |= {
        "users": run.users,
        "limits": {"per_minute": per_minute, "per_hour": per_hour, "active": active_limit},
        "seed": run.seed,
        "acknowledged_uploads": sum(len(u.model.acknowledged) for u in users),
        "deleted": sum(len(u.model.deleted) for u in users),
        "restored": sum(1 for u in users for s in u.samples if s.op == "restore" and s.units),
        "rate_limited": sum(1 for u in users for s in u.samples if s.status == 429),
        "render_pending": sum(u.pending for u in users),
        "invariants": invariants,
        "ok": not any(invariants.values()),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print_figures(result)
    verdict = "all invariants hold" if result["ok"] else "INVARIANT BROKEN"
    print(f"load: {verdict}; wrote {args.output}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
