"""The Lambda context object, as handlers and Powertools read it.

The local stack's workers hand it to the functions they run; the tests and the bench hand it
to handlers they call in process.
"""

from __future__ import annotations

import os
import time


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read (also the
    stand-in the tests and the bench hand to handlers they call in process)."""

    def __init__(
        self,
        request_id: str = "local-request",
        deadline: float | None = None,
        function_name: str | None = None,
    ) -> None:
        name = function_name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        deadline = time.time() + 900 if deadline is None else deadline
        region = os.environ.get("AWS_REGION", "eu-west-1")
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))
