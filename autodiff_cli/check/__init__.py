"""Finite differences and the cases of `adiff check` (spec files, JUnit)."""
