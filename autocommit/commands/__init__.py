"""One module per CLI command (see autocommit/cli.py)."""
