"""Write the sample API Gateway events in `events/` (run: `make events`).

The events and their builders are `testkit.events` (shared with the tests, the bench and the
local stack); this writes them, one JSON file per case, plus `local-env.json` (the functions'
development environment for `sam local invoke --env-vars`). The output is deterministic, so
re-running changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from devkit.defaults import DEV_ENV
from testkit.events import sample_events

EVENTS = Path(__file__).resolve().parent.parent / "events"


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    written = sample_events()
    for name, event in written.items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")
    env = {"Parameters": {**DEV_ENV, "POWERTOOLS_TRACE_DISABLED": "true"}}
    (EVENTS / "local-env.json").write_text(json.dumps(env, indent=2) + "\n")
    print(f"wrote {len(written)} events and local-env.json to {EVENTS}")


if __name__ == "__main__":
    main()
