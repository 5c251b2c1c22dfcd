"""crosschain."""
