"""`python -m devstack` (what `make dev` runs)."""

import sys
from pathlib import Path

# The stack validates each function's settings with the SharedLayer's own code.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "shared"))

from devstack.stack import main

main()
