"""One module per CLI command (see autocommit/cli/parser.py)."""
