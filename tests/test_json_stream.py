"""The fast JSON text of the node list equals encoding node_entry dicts."""

import pytest

from autodiff_cli import evaluate, parse
from autodiff_cli.documents.grad import grad_document, node_texts
from autodiff_cli.documents.shared import node_entry
from autodiff_cli.render.json_doc import _dumps, dumps


@pytest.mark.parametrize("formula, at", [
    ("x*y + sin(x)", {"x": 1.0, "y": 2.0}),
    ("sqrt(0)*x", {"x": 1.0}),  # the constant 0 gets a nan gradient
    ("max(x, y, z) + logsumexp(x, y, z) - atan2(y, x)", {"x": 1.0, "y": 1.0, "z": -3.5}),
    ("θ1 = x^2; -log(sigmoid(θ1)) + relu(-x) + abs(x - 1)", {"x": 1.0}),
    ("1e300*x*1e-300 + 2.5e-320*y", {"x": 3.0, "y": -0.0}),
])
def test_node_texts_equal_encoded_entries(formula, at):
    graph = parse(formula)
    ev = evaluate(graph, at)
    assert list(node_texts(graph, ev)) == [_dumps(node_entry(graph, ev, i)) for i in range(len(graph))]
    doc = grad_document(graph, ev, list(graph.variables), None, "off")
    slow = dict(doc, nodes=[node_entry(graph, ev, i) for i in range(len(graph))])
    assert dumps(doc) == dumps(dict(slow, nodes=type(doc["nodes"])(iter(slow["nodes"]))))
