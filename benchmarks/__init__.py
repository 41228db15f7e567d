"""The performance suite: each ``bench_*.py`` module measures autocommit next to a baseline."""
