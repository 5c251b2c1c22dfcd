"""Transaction patterns: CoinJoins (and, from other work, peel chains and more)."""
