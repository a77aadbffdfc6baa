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
_API = {"parse": "parser", "evaluate": "engine", "forward": "engine", "backward": "engine",
        "Evaluation": "engine", "AdiffError": "errors", "InputError": "errors",
        "EvalError": "errors"}

__all__ = ["parse", "evaluate", "forward", "backward", "Evaluation",
           "AdiffError", "InputError", "EvalError", "__version__"]


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
