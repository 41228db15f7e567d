"""The ``autocommit`` command: the parser (:mod:`autocommit.cli.parser`) and one module
per verb (:mod:`autocommit.cli.commands`). ``autocommit.cli:main`` is the installed entry
point."""

from autocommit.cli.parser import main

__all__ = ["main"]
