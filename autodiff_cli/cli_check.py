"""adiff check (see issue 3)."""
