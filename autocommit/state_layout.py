"""The names of autocommit's state files that more than their owner looks for.

Each file belongs to one module (which writes it); a new ``autocommit snapshot`` process
also looks for some of them before importing any of those modules
(:mod:`autocommit.engine.scan_ahead`), so the names live here, standard library only.
"""

STATE_DIR = "autocommit"  # <this worktree's git dir>/autocommit, owner only
PRIVATE_INDEX = "index"  # the index the full scans stage into (engine.full_scan)
SCAN_CACHE = "scan-cache.json"  # the last walk's directories (engine.scan_cache)
DAEMON_SOCKET = "daemon.sock"  # the daemon's control socket (daemon.control)
