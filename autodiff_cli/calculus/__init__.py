"""The calculus of the op table: backends (what each primitive is for floats, arrays,
complex numbers, dual numbers and expressions) and the compiler that turns each row's
formulas into straight-line Python for a backend, on first use.

* ``backends.py``: primitive name -> implementation, one table per backend;
* ``rules.py``: formulas -> compiled functions, and the few hand-written rules;
* ``engine.py``: the forward and backward passes (the chain rule, in one loop);
* ``steps.py``: the backward pass's steps, upstream × local = contribution, for ``trace``
  and the documents;
* ``expand.py``: ``--expand``, fused ops rewritten into primitives.

The op table (``core/ops.py``, below this package) imports neither: importing this package
registers ``rules.compiled`` as the table's compiler (``ops.set_compiler``). The package's
API (``autodiff_cli.parse``, ``evaluate``, ...) and the engine import it, and an op used
before that asks the package's front door to (``autodiff_cli._install_compiler``). Nothing
is compiled, and NumPy is not imported, until an op is first used with a backend.
"""

from autodiff_cli.calculus import rules as _rules
from autodiff_cli.core import ops as _ops

_ops.set_compiler(_rules.compiled)
