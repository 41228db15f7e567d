"""autocommit: exact code versions for every ML experiment run."""

__version__ = "0.1.0"
