"""The local stack: run the SAM application on one machine without Docker (`make dev`)."""
