"""Talking to git: processes, objects, refs, the repository. Knows nothing of snapshots."""
