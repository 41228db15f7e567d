"""The snapshot engine: working tree → tree → commit → shadow ref, run commits, packing.

Knows nothing of the daemon, MLflow, hooks or the CLI; they all call it.
"""
