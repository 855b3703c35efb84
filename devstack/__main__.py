"""`python -m devstack` (what `make dev` runs)."""

from devstack.stack import main

main()
