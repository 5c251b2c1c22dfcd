"""L0: typed, immutable domain values. No I/O, no SQL, no network."""
