"""L1: pure computation over arrays (numpy/scipy). No store, no I/O."""
