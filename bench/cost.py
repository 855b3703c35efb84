"""Cost per million views, from this run's own figures and the list prices in bench/prices.py.

One file: the model (bytes, durations, hit ratios), the rows it reads and the tables it
prints share one set of assumptions (prices, windows, MemorySize); a table kept elsewhere
could disagree with the row it summarises.

Computed after the sections it reads, from their rows (nothing is measured here):

- **bytes per view**: the renditions section's 12 MP JPEG and its SMALL, MEDIUM and LARGE
  WebP sizes;
- **Lambda duration**: the warm section's signed fetch (R2) at four body sizes, a line fitted
  through them (own time and the time inside the GetObject separately). Billed at the
  function's MemorySize in template.yaml, with the own time stretched by the CPU share Lambda
  gives at that size (a full vCPU at 1,769 MB; the bench measures on a whole core), each
  invocation rounded up to the millisecond. The GetObject ran against moto on loopback: R2
  from Lambda is farther, so the duration is a floor;
- **CDN hits**: signed URLs are identical within a window (SignedUrlWindowSeconds) and change
  at the next, so each window's URL is a new cache key. Signed answers say
  `Cache-Control: public, max-age=<min(left, window)>, s-maxage=<left on the token>`: the CDN
  keeps a copy for the token's life (capped by the cache policy's MaxTTL), longer than the
  window, so a copy is never dropped while its URL is handed out. With views of one size
  arriving at random (Poisson) at a mean of n per window, a window's first view misses and
  the others hit: hit ratio = 1 - (1 - e^-n) / n. One cache is assumed (CloudFront's
  regional edge caches pool its edges; views spread over several regions miss more);
- **response headers**: 500 B a response, assumed.

Ways of delivering: inline through API Gateway, the R2 redirect, and CloudFront in front of
the signed route, whose misses reach signed fetch one of two ways: through a Lambda function
URL with origin access control (a miss pays no API Gateway request), or through API Gateway.
Which one is "as deployed" is read from template.yaml (`deployed_origin`: the origin the
distribution's signed behaviour targets), never assumed; the other is priced beside it as
the alternative. Each is labelled.

Budget (issue 27): a million SMALL views behind the CDN at 10 views per window, as the
template deploys it (EnableCdn=true), <= $2.00. The tables (views per window 1, 3, 10, 100;
the window each view rate needs for 90% hits; one month against the free tiers) are saved
pre-formatted in the first row's data, so the printed table and the docs
(docs/gen/bench_tables.py) show the same cells.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench import prices
from bench.budgets import Row, at_most, failed

SECTION = "cost per view (list prices, bench/prices.py; measured bytes and durations)"
RENDITIONS_SECTION_PREFIX = "renditions ("
WARM_DURATION_PREFIX = "signed fetch (R2), "
PHOTO = "12 MP JPEG"
SIZES = ("ORIGINAL", "LARGE", "MEDIUM", "SMALL")
HEADER_BYTES = 500  # assumed: status line and headers of a 200
REDIRECT_BYTES = 1_000  # assumed: a 302 with its presigned Location
VIEWS_PER_WINDOW = (1, 3, 10, 100)
BUDGET_VIEWS = 10
BUDGET_USD = 2.00
TARGET_HIT = 0.9
VIEW_RATES_PER_HOUR = (1, 3, 10, 100, 1000)
MONTH_VIEWS = 10_000_000
R2_PRESIGN_MAX_SECONDS = 604_800  # FACTS.md: presign expiry 1 s to 7 days

VIA_URL = "CloudFront -> function URL (OAC) -> signed fetch"
VIA_API = "CloudFront -> API Gateway -> signed fetch"
SIGNED_PATTERN = "api/storage/signed/*"  # the distribution's behaviour for signed URLs


def hit_ratio(views_per_window: float) -> float:
    """Share of views a cache answers when each window's URL is a new key and views arrive at
    random, `views_per_window` on average: every window with a view has one miss."""
    n = views_per_window
    if n <= 0:
        return 0.0
    return 1 - (1 - math.exp(-n)) / n


def views_for(hit: float) -> float:
    """The mean views per window that give `hit` (bisection: hit_ratio is increasing)."""
    low, high = 1e-9, 1e9
    for _ in range(200):
        middle = math.sqrt(low * high)
        if hit_ratio(middle) < hit:
            low = middle
        else:
            high = middle
    return high


@dataclass(frozen=True)
class Line:
    """ms = intercept + slope * bytes, least squares."""

    intercept: float
    slope: float

    def at(self, size: float) -> float:
        return max(0.0, self.intercept + self.slope * size)


def fit(points: Sequence[tuple[float, float]]) -> Line:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    if len(points) < 2 or len(set(xs)) < 2:
        return Line(statistics.fmean(ys), 0.0)
    slope, intercept = statistics.linear_regression(xs, ys)
    return Line(intercept, slope)


@dataclass(frozen=True)
class Duration:
    """Signed fetch's billed duration per body size, from the warm section's rows."""

    own: Line  # ms on a whole core of this machine
    aws: Line  # ms inside the GetObject (moto on loopback)
    memory_mb: int
    points: list[dict[str, float]]

    @property
    def cpu_stretch(self) -> float:
        return max(1.0, prices.LAMBDA_FULL_VCPU_MB / self.memory_mb)

    def billed_ms(self, size: int) -> float:
        return math.ceil(self.own.at(size) * self.cpu_stretch + self.aws.at(size))


@dataclass(frozen=True)
class Model:
    sizes: dict[str, int]  # bytes a view, by size name
    duration: Duration

    def lambda_usd(self, size: int) -> float:
        seconds = self.duration.billed_ms(size) / 1000
        gb = self.duration.memory_mb / 1024
        return prices.LAMBDA_REQUEST.usd + gb * seconds * prices.LAMBDA_GB_SECOND.usd

    def origin_usd(self, size: int, api_gateway: bool) -> float:
        """One run of signed fetch for a body of `size` bytes (its R2 GetObject included),
        reached through API Gateway or a function URL; the bytes it sends not included."""
        entry = (
            prices.API_GATEWAY_REST_REQUEST.usd if api_gateway else prices.LAMBDA_FUNCTION_URL.usd
        )
        return entry + self.lambda_usd(size) + prices.R2_CLASS_B.usd

    def inline(self, size: int) -> float:
        return self.origin_usd(size, True) + (size + HEADER_BYTES) * prices.DATA_TRANSFER_OUT.usd

    def redirect(self, size: int) -> float:
        """Signed fetch finds the file too large (one Class B read), 302 to a presigned R2
        GET (a second), the bytes from R2 (egress free)."""
        return (
            prices.API_GATEWAY_REST_REQUEST.usd
            + self.lambda_usd(0)
            + 2 * prices.R2_CLASS_B.usd
            + REDIRECT_BYTES * prices.DATA_TRANSFER_OUT.usd
            + size * prices.R2_EGRESS.usd
        )

    def cdn(self, size: int, views_per_window: float, api_gateway: bool) -> float:
        """Every view a CloudFront request and its bytes; a miss also one origin run (origin
        fetches from AWS origins are free)."""
        sent = size + HEADER_BYTES
        miss = self.origin_usd(size, api_gateway) + sent * prices.CLOUDFRONT_ORIGIN_FETCH.usd
        return (
            prices.CLOUDFRONT_HTTPS_REQUEST.usd
            + sent * prices.CLOUDFRONT_TRANSFER_OUT.usd
            + (1 - hit_ratio(views_per_window)) * miss
        )

    def month(self, views: int, size: int, views_per_window: float, api_gateway: bool) -> dict:
        """One month of `views` behind the CDN: each service's use, its list price, and the
        price after the always-free tiers."""
        free = prices.FREE_TIER
        misses = views * (1 - hit_ratio(views_per_window))
        seconds = self.duration.billed_ms(size) / 1000
        use = {
            "CloudFront requests": (views, prices.CLOUDFRONT_HTTPS_REQUEST, "CLOUDFRONT_REQUESTS"),
            "CloudFront transfer": (
                views * (size + HEADER_BYTES),
                prices.CLOUDFRONT_TRANSFER_OUT,
                "CLOUDFRONT_TRANSFER",
            ),
            "Lambda requests": (misses, prices.LAMBDA_REQUEST, "LAMBDA_REQUESTS"),
            "Lambda duration": (
                misses * seconds * self.duration.memory_mb / 1024,
                prices.LAMBDA_GB_SECOND,
                "LAMBDA_GB_SECONDS",
            ),
            "R2 reads": (misses, prices.R2_CLASS_B, "R2_CLASS_B"),
        }
        if api_gateway:
            use["API Gateway requests"] = (misses, prices.API_GATEWAY_REST_REQUEST, "")
        listed = sum(amount * price.usd for amount, price, _ in use.values())
        after = sum(
            max(0.0, amount - (free[tier].amount if tier else 0.0)) * price.usd
            for amount, price, tier in use.values()
        )
        return {"list": listed, "free_tier": after, "misses": misses}


# ---------------------------------------------------------------------------------- inputs


def _sizes(rows: Sequence[Row]) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in rows:
        if not row.section.startswith(RENDITIONS_SECTION_PREFIX) or not row.metric.startswith(
            PHOTO
        ):
            continue
        if row.metric == f"{PHOTO}: original bytes per view":
            found["ORIGINAL"] = int(row.data["bytes"])
        for name in SIZES[1:]:
            if row.metric == f"{PHOTO}: {name} bytes / original":
                found[name] = int(row.data["bytes"])
    missing = [name for name in SIZES if name not in found]
    if missing:
        raise LookupError(f"the renditions section gave no bytes for {', '.join(missing)}")
    return {name: found[name] for name in SIZES}


def _duration(rows: Sequence[Row], memory_mb: int) -> Duration:
    points = [
        {"bytes": row.data["bytes"], "own_ms": row.data["own_s"] * 1000}
        | {"aws_ms": row.data["aws_s"] * 1000}
        for row in rows
        if row.metric.startswith(WARM_DURATION_PREFIX) and row.value is not None
    ]
    if not points:
        raise LookupError("the warm section measured no signed fetch duration")
    own = fit([(p["bytes"], p["own_ms"]) for p in points])
    aws = fit([(p["bytes"], p["aws_ms"]) for p in points])
    return Duration(own, aws, memory_mb, points)


def fetch_memory_size() -> int:
    """SignedFetchFunction's MemorySize (the Globals' when it sets none)."""
    from devkit.template import load_template

    template = load_template()
    function = template.get("Resources", {}).get("SignedFetchFunction", {})
    size = function.get("Properties", {}).get("MemorySize")
    return int(size if isinstance(size, int) else template["Globals"]["Function"]["MemorySize"])


def deployed_windows() -> dict[str, int]:
    """The template's defaults for the window and the token's life, and the cache policy's
    MaxTTL (how long CloudFront keeps a copy at most)."""
    from devkit.template import load_template

    template = load_template()
    parameters = template.get("Parameters", {})
    policy = template.get("Resources", {}).get("CdnCachePolicy", {})
    max_ttl = policy.get("Properties", {}).get("CachePolicyConfig", {}).get("MaxTTL", 86400)
    return {
        "window": int(parameters["SignedUrlWindowSeconds"]["Default"]),
        "ttl": int(parameters["SignedUrlTtlSeconds"]["Default"]),
        "max_ttl": int(max_ttl),
    }


def deployed_origin(template: dict[str, Any] | None = None) -> str:
    """How the template's CDN reaches signed fetch on a miss: "function URL" when the
    distribution's signed behaviour targets an origin whose host is an AWS::Lambda::Url's,
    "API Gateway" when it targets the API's stage."""
    from devkit.template import load_template, references, resources_of_type

    template = load_template() if template is None else template
    resources = template.get("Resources", {})
    (distribution,) = resources_of_type(template, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    (behavior,) = (
        b for b in config.get("CacheBehaviors", []) if b["PathPattern"] == SIGNED_PATTERN
    )
    (origin,) = (o for o in config["Origins"] if o["Id"] == behavior["TargetOriginId"])
    named = references(origin["DomainName"])
    if any(resources.get(name, {}).get("Type") == "AWS::Lambda::Url" for name in named):
        return "function URL"
    if any(resources.get(name, {}).get("Type") == "AWS::Serverless::Api" for name in named):
        return "API Gateway"
    raise LookupError(f"the signed behaviour's origin {origin['Id']!r} is neither")


# ---------------------------------------------------------------------------------- tables


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _seconds(value: float) -> str:
    if value >= 86400:
        return f"{value / 86400:,.1f} d"
    if value >= 3600:
        return f"{value / 3600:,.1f} h"
    if value >= 60:
        return f"{value / 60:,.0f} min"
    return f"{value:,.0f} s"


def ways_behind_the_cdn(deployed_via_api: bool) -> list[tuple[str, bool]]:
    """(label, through API Gateway) of the two ways a miss reaches signed fetch, the one the
    template deploys first."""
    deployed = (VIA_API if deployed_via_api else VIA_URL) + " (as deployed, EnableCdn=true)"
    other = (VIA_URL if deployed_via_api else VIA_API) + " (alternative, not deployed)"
    return [(deployed, deployed_via_api), (other, not deployed_via_api)]


def tables(model: Model, windows: dict[str, int], deployed_via_api: bool) -> list[dict[str, Any]]:
    """Every cost table, its cells formatted: the same text wherever it is shown."""
    sizes = model.sizes
    duration = model.duration
    per_million = prices.MILLION
    size_header = [f"{name} ({sizes[name] / 1000:,.1f} KB)" for name in SIZES]
    ways: list[tuple[str, Callable[[int], float]]] = [
        ("inline (API Gateway -> signed fetch)", model.inline),
        ("R2 redirect", model.redirect),
    ]
    cdn_ways = ways_behind_the_cdn(deployed_via_api)
    for label, api in cdn_ways:
        ways.append(
            (
                f"{label}, {BUDGET_VIEWS} views/window",
                lambda s, api=api: model.cdn(s, BUDGET_VIEWS, api),
            )
        )
    short = {True: "API Gateway", False: "function URL"}
    by_way = {
        "title": f"Cost per million views of one {PHOTO} and its sizes (USD)",
        "header": ["per 1M views", *size_header],
        "rows": [
            [label, *(_usd(per_million * cost(sizes[name])) for name in SIZES)]
            for label, cost in ways
        ],
    }
    small = sizes["SMALL"]
    by_views = {
        "title": (
            "Cost per million SMALL views behind the CDN, by mean views of that size per "
            "window (USD; hit ratio 1 - (1 - e^-n)/n)"
        ),
        "header": [
            "views per window",
            "hit ratio",
            f"as deployed ({short[deployed_via_api]})",
            f"alternative ({short[not deployed_via_api]})",
        ],
        "rows": [
            [
                f"{views}",
                f"{hit_ratio(views):.1%}",
                *(_usd(per_million * model.cdn(small, views, api)) for _, api in cdn_ways),
            ]
            for views in VIEWS_PER_WINDOW
        ],
    }
    needed = views_for(TARGET_HIT)
    limit = min(windows["ttl"], R2_PRESIGN_MAX_SECONDS)
    window_rows = []
    for rate in VIEW_RATES_PER_HOUR:
        seconds = needed / rate * 3600
        if seconds <= windows["window"]:
            verdict = "the deployed window does"
        elif seconds <= limit:
            verdict = "a longer SignedUrlWindowSeconds (<= SignedUrlTtlSeconds) does"
        elif seconds <= R2_PRESIGN_MAX_SECONDS:
            verdict = "needs SignedUrlTtlSeconds raised too"
        else:
            verdict = "out of reach (R2 presigns at most 7 days)"
        if seconds > windows["max_ttl"]:
            verdict += f"; CloudFront's MaxTTL ({_seconds(windows['max_ttl'])}) refetches sooner"
        window_rows.append([f"{rate:,}", _seconds(seconds), verdict])
    by_window = {
        "title": (
            f"Window length that reaches {TARGET_HIT:.0%} CDN hits (n = {needed:.2f} views per "
            f"window), by views of one size per hour (deployed: SignedUrlWindowSeconds "
            f"{windows['window']} s, SignedUrlTtlSeconds {windows['ttl']} s)"
        ),
        "header": ["views per size per hour", "window for 90%", "reachable"],
        "rows": window_rows,
    }
    month_rows = []
    for _, api in cdn_ways:
        label = f"{'as deployed' if api == deployed_via_api else 'alternative'} ({short[api]})"
        bill = model.month(MONTH_VIEWS, small, BUDGET_VIEWS, api)
        month_rows.append(
            [label, f"{bill['misses']:,.0f}", _usd(bill["list"]), _usd(bill["free_tier"])]
        )
    by_month = {
        "title": (
            f"Free tier: one month of {MONTH_VIEWS:,} SMALL views behind the CDN at "
            f"{BUDGET_VIEWS} views per window (USD; always-free tiers: CloudFront 10M requests "
            "and 1 TB, Lambda 1M requests and 400,000 GB-s, R2 10M Class B reads; API "
            "Gateway's 1M calls last 12 months and are not counted)"
        ),
        "header": ["way", "misses", "list price", "after the free tiers"],
        "rows": month_rows,
    }
    fitted = {
        "title": (
            f"Signed fetch's billed duration per view (R2, {duration.memory_mb} MB: own time "
            f"x{duration.cpu_stretch:.2f} for the CPU share, a full vCPU at "
            f"{prices.LAMBDA_FULL_VCPU_MB} MB; + the GetObject on moto, a floor for R2)"
        ),
        "header": ["size", "bytes", "own ms (this machine)", "GetObject ms", "billed ms"],
        "rows": [
            [
                name,
                f"{sizes[name]:,}",
                f"{duration.own.at(sizes[name]):.2f}",
                f"{duration.aws.at(sizes[name]):.2f}",
                f"{duration.billed_ms(sizes[name]):.0f}",
            ]
            for name in SIZES
        ],
    }
    return [by_way, by_views, by_window, by_month, fitted]


# ------------------------------------------------------------------------------------ rows


def rows(measured: Sequence[Row]) -> list[Row]:
    metric = (
        f"cost per 1M SMALL views behind the CDN at {BUDGET_VIEWS} views per window, as deployed"
    )
    try:
        model = Model(_sizes(measured), _duration(measured, fetch_memory_size()))
        windows = deployed_windows()
        via_api = deployed_origin() == "API Gateway"
    except (LookupError, KeyError, ValueError) as exc:
        return [failed(SECTION, metric, f"{type(exc).__name__}: {exc}", at_most(BUDGET_USD))]
    small = model.sizes["SMALL"]
    data = {
        "tables": tables(model, windows, via_api),
        "deployed_origin": "API Gateway" if via_api else "function URL",
        "bytes": model.sizes,
        "photo": PHOTO,
        "fetch_memory_mb": model.duration.memory_mb,
        "duration_points": model.duration.points,
        "cpu_stretch": model.duration.cpu_stretch,
        "windows": windows,
        "as_published_on": prices.AS_PUBLISHED_ON,
        "prices": {name: [p.usd, p.unit, p.what, p.source] for name, p in prices.ALL.items()},
        "free_tier": {
            name: [a.amount, a.unit, a.what, a.source] for name, a in prices.FREE_TIER.items()
        },
        "assumed": {"header_bytes": HEADER_BYTES, "redirect_bytes": REDIRECT_BYTES},
    }
    billed = model.duration.billed_ms(small)
    deployed = prices.MILLION * model.cdn(small, BUDGET_VIEWS, via_api)
    (deployed_label, _), (other_label, _) = ways_behind_the_cdn(via_api)
    entry = "API Gateway" if via_api else "a function URL request (no API Gateway)"
    misses = prices.MILLION * (1 - hit_ratio(BUDGET_VIEWS))
    gb_second = model.duration.memory_mb / 1024 * prices.LAMBDA_GB_SECOND.usd
    headroom_ms = max(0.0, BUDGET_USD - deployed) / misses / gb_second * 1000
    out = [
        Row(
            SECTION,
            metric,
            deployed,
            "USD",
            at_most(BUDGET_USD, f"<= ${BUDGET_USD:.2f}"),
            f"{deployed_label}; {small:,} B a view; {hit_ratio(BUDGET_VIEWS):.1%} hits; a miss "
            f"is {entry} + signed fetch ({billed:.0f} ms billed at "
            f"{model.duration.memory_mb} MB, measured with R2 on loopback: the budget holds "
            f"until a miss bills {headroom_ms:,.0f} ms more) + one R2 read; CloudFront HTTPS "
            f"requests at "
            f"${prices.CLOUDFRONT_HTTPS_REQUEST.usd * 10_000:.4f} per 10,000; list prices as "
            f"published on {prices.AS_PUBLISHED_ON}; the tables follow the main table",
            data,
        ),
        Row(
            SECTION,
            f"the same, {other_label}, {BUDGET_VIEWS} views per window",
            prices.MILLION * model.cdn(small, BUDGET_VIEWS, not via_api),
            "USD",
            None,
            "the other origin for the distribution's signed behaviour, priced for comparison "
            "(template.yaml deploys the one above)",
        ),
    ]
    for views in VIEWS_PER_WINDOW:
        if views == BUDGET_VIEWS:
            continue
        out.append(
            Row(
                SECTION,
                f"cost per 1M SMALL views behind the CDN at {views} views per window, as deployed",
                prices.MILLION * model.cdn(small, views, via_api),
                "USD",
                None,
                f"{hit_ratio(views):.1%} hits; the alternative "
                f"{_usd(prices.MILLION * model.cdn(small, views, not via_api))}",
            )
        )
    for label, size, cost in (
        ("original inline", "ORIGINAL", model.inline),
        ("MEDIUM inline", "MEDIUM", model.inline),
        ("SMALL inline", "SMALL", model.inline),
        ("original by R2 redirect", "ORIGINAL", model.redirect),
    ):
        out.append(
            Row(
                SECTION,
                f"cost per 1M views: {label}",
                prices.MILLION * cost(model.sizes[size]),
                "USD",
                None,
                f"{model.sizes[size]:,} B a view ({PHOTO})",
            )
        )
    return out


def table_text(rows_: Sequence[Row], markdown: bool = False) -> str:
    """The saved tables (first cost row's data), as text or Markdown; "" if none."""
    data = next(
        (row.data for row in rows_ if row.section == SECTION and "tables" in row.data), None
    )
    if not data:
        return ""
    parts = []
    for table in data["tables"]:
        header, lines = table["header"], table["rows"]
        if markdown:
            out = [f"{table['title']}:", "", "| " + " | ".join(header) + " |"]
            out.append("| --- |" + " ---: |" * (len(header) - 1))
            out += ["| " + " | ".join(line) + " |" for line in lines]
        else:
            widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
            out = [f"{table['title']}:"]
            out += [
                "  ".join(
                    c.rjust(w) if i else c.ljust(w)
                    for i, (c, w) in enumerate(zip(line, widths, strict=True))
                )
                for line in [header, *lines]
            ]
        parts.append("\n".join(out))
    return "\n\n".join(parts)
