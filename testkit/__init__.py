"""The test kit: sample events, images and helpers shared by the tests, the bench, the
tools and the local stack.

- `testkit.events`: the sample API Gateway and stream events and their builders (what
  `make events` writes to `events/`);
- `testkit.images`: small, real, deterministic images of every format the service handles;
- `testkit.invoke`: calling a handler in process, as Lambda would, and reading its answer;
- `testkit.aws_calls`: botocore event hooks that every AWS call made in process goes past;
- `testkit.tools_venv`: running the SAM / cfn-lint tool venv's Python.

It never imports `tests` (nor `bench`): whatever outside the tests needs lives here.
"""
