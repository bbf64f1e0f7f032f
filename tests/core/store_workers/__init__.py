"""Helper scripts and record builders for the results-store tests (run as real subprocesses)."""
