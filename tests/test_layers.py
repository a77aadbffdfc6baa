"""The layers: each subpackage imports only from the ones below it, top-level and lazy imports alike.

text -> language (graph) -> calculus (values, gradients, steps) -> check / data -> documents
-> render -> stdout, with ``cli`` as glue on top. A module that imports from a higher layer
fails this test, whether the import sits at the top of the file or inside a function.
"""

from __future__ import annotations

import ast

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "autodiff_cli"

#: Bottom-up. A module belongs to the first layer whose prefix names it.
LAYERS = (
    ("errors", ("autodiff_cli.errors", "autodiff_cli.files")),
    ("core", ("autodiff_cli.core",)),
    ("language", ("autodiff_cli.language",)),
    ("calculus", ("autodiff_cli.calculus",)),
    ("check", ("autodiff_cli.check",)),
    ("data", ("autodiff_cli.data",)),
    ("documents", ("autodiff_cli.documents",)),
    ("render", ("autodiff_cli.render",)),
    ("cli", ("autodiff_cli.cli", "autodiff_cli.__main__")),
)
RANK = {name: k for k, (name, _) in enumerate(LAYERS)}
#: The package's front door (``from autodiff_cli import parse, evaluate``): it may import up to
#: calculus, and any module may read ``__version__`` from it.
API_LAYER = "calculus"


def layer_of(module: str) -> str | None:
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None


def _module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path):
    """(line, imported module) for every import in the file, nested ones included."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # "from . import ops" imports the module autodiff_cli.ops
                yield node.lineno, f"{target}.{alias.name}"


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer():
    for path in MODULES:
        module = _module_name(path)
        assert module == "autodiff_cli" or layer_of(module), f"{module} is in no layer"


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) for p in MODULES])
def test_imports_only_from_below(path):
    module = _module_name(path)
    own = API_LAYER if module == "autodiff_cli" else layer_of(module)
    bad = []
    for line, target in _imports(path):
        if not target.startswith("autodiff_cli"):
            continue
        if target == "autodiff_cli" or target == "autodiff_cli.__version__":
            continue
        theirs = layer_of(target)
        if theirs is None:  # "from . import x" names a symbol, not a module; checked above
            continue
        if RANK[theirs] > RANK[own]:
            bad.append(f"line {line}: {target} ({theirs})")
    assert not bad, f"{module} ({own}) imports from a higher layer: " + "; ".join(bad)


def test_the_walk_sees_lazy_imports():
    source = "def f():\n    from ..render import emit\n"
    tree = ast.parse(source)
    nested = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert nested and nested[0].level == 2
