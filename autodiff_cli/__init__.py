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

# The API is imported on first use (PEP 562), so that importing a submodule,
# such as the command's entry point ``autodiff_cli.__main__``, costs nothing:
# the entry point sets up Ctrl-C handling before anything heavy is imported.
_API = {"parse": "language.parser", "evaluate": "calculus.engine",
        "forward": "calculus.engine", "backward": "calculus.engine",
        "Evaluation": "calculus.engine", "AdiffError": "errors", "InputError": "errors",
        "EvalError": "errors"}

__all__ = ["parse", "evaluate", "forward", "backward", "Evaluation",
           "AdiffError", "InputError", "EvalError", "__version__"]


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    _install_compiler()
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def _install_compiler() -> None:
    """Register the calculus's rule compiler with the op table (``ops.set_compiler``).

    The op table may not import the calculus (it is the layer below); this front door
    may. Importing ``autodiff_cli.calculus`` registers it; the API above and the engine
    do, and the op table calls this when an op is used before anything did. Not done at
    import time: ``python -m autodiff_cli`` takes over Ctrl-C before importing anything.
    """
    from autodiff_cli import calculus  # noqa: F401 - registers on import


def __dir__():
    return sorted(set(globals()) | set(_API))
