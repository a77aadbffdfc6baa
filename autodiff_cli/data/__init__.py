"""Data files: reading them, and evaluating a formula over their rows."""
