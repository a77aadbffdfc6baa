"""The calculus of the op table: backends (what each primitive is for floats, arrays,
complex numbers, dual numbers and expressions) and the compiler that turns each row's
formulas into straight-line Python for a backend, on first use.

* ``backends.py``: primitive name -> implementation, one table per backend;
* ``rules.py``: formulas -> compiled functions, and the few hand-written rules.

``ops.py`` imports both (they import only the standard library); nothing is compiled, and
NumPy is not imported, until an op is first used with a backend.
"""
