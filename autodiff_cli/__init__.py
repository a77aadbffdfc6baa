"""adiff: differentiate the formulas people type.

A formula becomes a computational graph (nodes are operations, edges are
values); a reverse-mode pass computes every gradient at once, and finite
differences serve as the independent check. The small Python API:

>>> from autodiff_cli import parse, evaluate
>>> g = parse("x*y + sin(x)")
>>> result = evaluate(g, {"x": 1.0, "y": 2.0})
>>> round(result.value, 6), round(result.gradient["x"], 6)
(2.841471, 2.540302)
"""

__version__ = "0.1.0"

from .engine import Evaluation, backward, evaluate, forward  # noqa: E402
from .errors import AdiffError, EvalError, InputError  # noqa: E402
from .parser import parse  # noqa: E402

__all__ = ["parse", "evaluate", "forward", "backward", "Evaluation",
           "AdiffError", "InputError", "EvalError", "__version__"]
