"""The watch daemon: file events → snapshots, the sync barrier, its control socket, and
the client other processes talk to it with."""
