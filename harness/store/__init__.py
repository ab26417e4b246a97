"""The run directory on disk: typed run files, atomic writes, append-only records, the lock."""
