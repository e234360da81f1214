"""placeholder during bootstrap."""
