"""Formula text to graph and back: the grammar, the LALR runtime, the parser, the printer, --at bindings."""
