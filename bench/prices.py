"""List prices for the bench's cost per view (bench/cost.py): the only place they live.

As published on 2026-12-03, the date these were stated: each is the figure of the pricing
page in its `source`, read from stored copies of those pages (AWS's Lambda, API Gateway and
CloudFront pages and whitepaper, Cloudflare's R2 docs); the CloudFront request price and the
EC2 data transfer rate were not in the copies read and come from notes quoting those pages.
Check the pages before relying on a figure. Pay-as-you-go list prices in USD, us-east-1 and
CloudFront's United States/Europe edges, the first volume tier of each; taxes left out. The
free tiers are in FREE_TIER: the per-view figures leave them out (at millions of views a
month they are used up) and the cost table's free-tier line applies them to one month. Each
is written as its page writes it (e.g. "$3.50 per million"): nothing here is more precise
than the page.
"""

from __future__ import annotations

from dataclasses import dataclass

AS_PUBLISHED_ON = "2026-12-03"
MILLION = 1_000_000
GB = 1_000_000_000  # AWS and Cloudflare bill data transfer per GB of 10^9 bytes


@dataclass(frozen=True, slots=True)
class Price:
    usd: float  # per `unit`
    unit: str
    what: str
    source: str


# as published on 2026-12-03
API_GATEWAY_REST_REQUEST = Price(
    3.50 / MILLION,
    "request",
    "API Gateway REST API calls: $3.50 per million (first 333 million a month)",
    "https://aws.amazon.com/api-gateway/pricing/",
)
# API Gateway bills the bytes it answers with at the EC2 data transfer out rates.
DATA_TRANSFER_OUT = Price(
    0.09 / GB,
    "byte",
    "AWS data transfer out to the internet: $0.09 per GB (first 10 TB a month; the first "
    "100 GB a month are free)",
    "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
)
LAMBDA_REQUEST = Price(
    0.20 / MILLION,
    "request",
    "Lambda requests: $0.20 per million",
    "https://aws.amazon.com/lambda/pricing/",
)
LAMBDA_GB_SECOND = Price(
    0.0000166667,
    "GB-second",
    "Lambda duration, x86: $0.0000166667 per GB-second (first 6 billion GB-s a month)",
    "https://aws.amazon.com/lambda/pricing/",
)
CLOUDFRONT_HTTPS_REQUEST = Price(
    0.0100 / 10_000,
    "request",
    "CloudFront HTTPS requests, United States/Europe: $0.0100 per 10,000",
    "https://aws.amazon.com/cloudfront/pricing/",
)
CLOUDFRONT_TRANSFER_OUT = Price(
    0.085 / GB,
    "byte",
    "CloudFront data transfer out to the internet, United States/Europe: $0.085 per GB "
    "(first 10 TB a month)",
    "https://aws.amazon.com/cloudfront/pricing/",
)
CLOUDFRONT_ORIGIN_FETCH = Price(
    0.0,
    "byte",
    "CloudFront origin fetches from AWS origins: free (the page names S3, EC2 and ELB; the "
    "API Gateway origin is taken to be one)",
    "https://aws.amazon.com/cloudfront/pricing/",
)
R2_CLASS_B = Price(
    0.36 / MILLION,
    "request",
    "Cloudflare R2 Class B operations (GetObject, HeadObject), Standard storage: $0.36 per million",
    "https://developers.cloudflare.com/r2/pricing/",
)
R2_EGRESS = Price(
    0.0,
    "byte",
    "Cloudflare R2 egress (data transfer to the internet): free",
    "https://developers.cloudflare.com/r2/pricing/",
)

ALL = {
    "API_GATEWAY_REST_REQUEST": API_GATEWAY_REST_REQUEST,
    "DATA_TRANSFER_OUT": DATA_TRANSFER_OUT,
    "LAMBDA_REQUEST": LAMBDA_REQUEST,
    "LAMBDA_GB_SECOND": LAMBDA_GB_SECOND,
    "CLOUDFRONT_HTTPS_REQUEST": CLOUDFRONT_HTTPS_REQUEST,
    "CLOUDFRONT_TRANSFER_OUT": CLOUDFRONT_TRANSFER_OUT,
    "CLOUDFRONT_ORIGIN_FETCH": CLOUDFRONT_ORIGIN_FETCH,
    "R2_CLASS_B": R2_CLASS_B,
    "R2_EGRESS": R2_EGRESS,
}

# Not prices, but what the cost model needs beside them, from the same pages.
LAMBDA_FUNCTION_URL = Price(
    0.0,
    "request",
    "Lambda function URLs: no charge of their own (the function's requests and duration only)",
    "https://aws.amazon.com/lambda/pricing/",
)
# Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB.
LAMBDA_FULL_VCPU_MB = 1769
LAMBDA_FULL_VCPU_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"


@dataclass(frozen=True, slots=True)
class Allowance:
    amount: float  # a month
    unit: str
    what: str
    source: str


# Free tiers, a month: the always-free ones, and API Gateway's, which lasts 12 months.
FREE_TIER = {
    "CLOUDFRONT_REQUESTS": Allowance(
        10_000_000,
        "request",
        "CloudFront: 10,000,000 HTTP(S) requests a month, always free",
        "https://aws.amazon.com/cloudfront/pricing/",
    ),
    "CLOUDFRONT_TRANSFER": Allowance(
        1_000 * GB,
        "byte",
        "CloudFront: 1 TB of data transfer out a month, always free",
        "https://aws.amazon.com/cloudfront/pricing/",
    ),
    "LAMBDA_REQUESTS": Allowance(
        1_000_000,
        "request",
        "Lambda: 1,000,000 requests a month, always free",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    "LAMBDA_GB_SECONDS": Allowance(
        400_000,
        "GB-second",
        "Lambda: 400,000 GB-seconds a month, always free",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    "R2_CLASS_B": Allowance(
        10_000_000,
        "request",
        "Cloudflare R2: 10 million Class B operations a month free",
        "https://developers.cloudflare.com/r2/pricing/",
    ),
    "API_GATEWAY_REQUESTS": Allowance(
        1_000_000,
        "request",
        "API Gateway: 1 million REST API calls a month for the first 12 months only "
        "(not counted below: a service outlives it)",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
}
