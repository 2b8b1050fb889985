"""Benchmarks: one script per measured claim, each printing a table and one JSON line.
Run from the repository root as `python -m bench.<name>`."""
