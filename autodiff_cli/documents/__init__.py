"""Documents: the JSON-shaped result of every command, built in this one layer.

A document is plain data (dicts, lists, numbers, strings) in the shape of the
command's JSON output (see CONTRACT.md); the renderers (``render/``) read it for
every format, so table, plain and JSON never disagree. Documents are built from
what the layers below computed -- an evaluation or a pass over data, backward
steps, finite-difference verdicts -- and never compute gradients themselves.

* ``base``: ``num`` (the number encoding: non-finite numbers as "nan", "inf",
  "-inf") and ``Stream`` (a JSON array produced lazily, for big lists);
* ``shared``: what several commands show alike (a node, kinks, the data file);
* ``grad``, ``check``, ``graph``, ``trace``: one module per command, point and
  data mode alike (a node that varies row by row is a field, not another
  document); ``junit``: the JUnit XML report of ``adiff check``.
"""

from autodiff_cli.documents.base import Stream, num

__all__ = ["Stream", "num"]
