"""adiff graph and adiff trace (see issue 4)."""
