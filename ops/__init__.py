"""Operator tools, one CLI: `python -m ops redrive|r2-lifecycle|r2-cors` (`--help` on each).

- `redrive`: replay a stream consumer's failure queue through the consumer (AWS, or the
  local stack's failure file with `--env local`);
- `r2-lifecycle`: expire never-completed direct uploads in the R2 bucket;
- `r2-cors`: let browser pages on CORS_ALLOWED_ORIGINS PUT direct uploads to the R2 bucket.

The Makefile's `make redrive`, `make r2-lifecycle` and `make r2-cors` call these.
"""
