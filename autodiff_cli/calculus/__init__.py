"""The calculus of the op table: backends (what each primitive is for floats, arrays,
complex numbers, dual numbers and expressions) and the compiler that turns each row's
formulas into straight-line Python for a backend, on first use.

* ``backends.py``: primitive name -> implementation, one table per backend;
* ``rules.py``: formulas -> compiled functions, and the few hand-written rules.

The op table (``ops.py``, below this package) imports neither: importing this package
registers ``rules.compiled`` as the table's compiler (``ops.set_compiler``). The package's
API (``autodiff_cli.parse``, ``evaluate``, ...) and the engine import it, and an op used
before that asks the package's front door to (``autodiff_cli._install_compiler``). Nothing
is compiled, and NumPy is not imported, until an op is first used with a backend.
"""

from .. import ops as _ops
from . import rules as _rules

_ops.set_compiler(_rules.compiled)
