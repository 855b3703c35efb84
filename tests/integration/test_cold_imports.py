"""What a signed GET's cold start loads: neither pynamodb nor botocore's client and session
when the file is on LOCAL disk, with tracing on as the template deploys it (issue 27).

A GET reads its token and the object store, never a table: the store's modules that import
pynamodb load only on the paths that read or write one (`store.tables` binds the models'
names without importing them), and the Tracer patches botocore when botocore's session is
first imported (`observability`), so a request that calls no AWS service imports neither.
Run in a fresh interpreter, since imports are global to one; tests/integration/test_tracing.py
shows the AWS calls of the other paths are still traced.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devkit.defaults import DEV_ENV
from profile_photos.store.storage.local import LocalStorage
from testkit.events import SAMPLE_KEY, signed_event, storage_token

ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"

CHILD = r"""
import json, sys

with open(sys.argv[1]) as handle:
    event = json.load(handle)
import signed_fetch_handler


class Context:
    function_name = "signed-fetch"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:signed-fetch"
    aws_request_id = "cold-imports"

    def get_remaining_time_in_millis(self):
        return 10_000


response = signed_fetch_handler.lambda_handler(event, Context())
print(json.dumps({"status": response["statusCode"], "loaded": sorted(sys.modules)}))
"""


def test_a_local_signed_get_loads_neither_pynamodb_nor_botocores_client(tmp_path: Path) -> None:
    # Given a stored file, its signed GET, and a process that looks like Lambda with tracing on
    LocalStorage(tmp_path).put("user-assets", SAMPLE_KEY, b"\xff\xd8\xff\xd9", "image/jpeg")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(signed_event("cold-imports", storage_token(path=SAMPLE_KEY))))
    env = DEV_ENV | {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'functions' / 'signed_fetch'}",
        "OBJECT_STORAGE_PROVIDER": "LOCAL",
        "LOCAL_STORAGE_BASE_PATH": str(tmp_path),
        "POWERTOOLS_SERVICE_NAME": "profile-photos",
        "POWERTOOLS_METRICS_NAMESPACE": "ProfilePhotos",
        "LAMBDA_TASK_ROOT": str(ROOT),  # the Tracer is on, as in Lambda
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",  # segments go nowhere
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    # When a fresh interpreter imports the handler and serves the GET
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(event)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then the file is served, traced, and the AWS libraries were never imported
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    assert "aws_xray_sdk.core" in answer["loaded"]
    assert not [name for name in answer["loaded"] if name.split(".")[0] == "pynamodb"]
    # Powertools imports botocore's package for its user agent (<1 ms); never a client
    assert "botocore.session" not in answer["loaded"]
    assert "botocore.client" not in answer["loaded"]
