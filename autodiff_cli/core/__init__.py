"""The op table and the graph: what a formula is, with no calculus and no syntax."""
