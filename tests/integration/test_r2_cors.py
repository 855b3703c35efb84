"""`make r2-cors` (`python -m ops r2-cors`) against moto's S3 server standing in for R2: the
bucket's CORS rules let a browser on an allowed origin PUT a direct upload."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def r2() -> Iterator[tuple[str, object, str]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="r2-key",
        aws_secret_access_key="r2-secret",
        config=Config(signature_version="s3v4"),
    )
    bucket = f"browser-uploads-{uuid.uuid4().hex[:8]}"  # moto's state is per process
    s3.create_bucket(Bucket=bucket)
    yield endpoint, s3, bucket
    server.stop()


def run_tool(endpoint: str, bucket: str, origins: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env |= {
        "PYTHONPATH": str(ROOT / "shared"),
        "R2_ENDPOINT_URL": endpoint,
        "R2_ACCESS_KEY_ID": "r2-key",
        "R2_SECRET_ACCESS_KEY": "r2-secret",
        "R2_USER_ASSETS_BUCKET": bucket,
        "CORS_ALLOWED_ORIGINS": origins,
    }
    return subprocess.run(
        [sys.executable, "-m", "ops", "r2-cors"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_bucket_lets_allowed_origins_put_and_get(r2: tuple[str, object, str]) -> None:
    endpoint, s3, bucket = r2

    done = run_tool(endpoint, bucket, "https://app.example.com, http://localhost:5173/")

    assert done.returncode == 0, done.stderr
    (rule,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]  # type: ignore[attr-defined]
    assert rule["AllowedOrigins"] == ["https://app.example.com", "http://localhost:5173"]
    assert set(rule["AllowedMethods"]) == {"PUT", "GET", "HEAD"}
    assert [h.lower() for h in rule["AllowedHeaders"]] == ["content-type"]
    assert rule["ExposeHeaders"] == ["ETag"]


def test_without_origins_the_tool_refuses_and_changes_nothing(r2: tuple[str, object, str]) -> None:
    endpoint, s3, bucket = r2

    done = run_tool(endpoint, bucket, "")

    assert done.returncode == 2
    assert "CORS_ALLOWED_ORIGINS" in done.stderr
    try:
        rules = s3.get_bucket_cors(Bucket=bucket).get("CORSRules", [])  # type: ignore[attr-defined]
    except s3.exceptions.ClientError:  # type: ignore[attr-defined]
        rules = []  # S3's NoSuchCORSConfiguration
    assert rules == []
