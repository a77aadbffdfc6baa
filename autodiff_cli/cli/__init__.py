"""The command line: the click app over the library, one module per command.

text -> ``Problem`` (read, parse, bind, warn, resolve --wrt; open --data) ->
calculus (evaluate) -> check / data (finite differences, passes over rows) ->
documents -> render -> stdout. Nothing below this package imports it.

* ``app``: the ``adiff`` group, exit codes, safe standard streams; commands are
  loaded lazily by name (``app.COMMANDS``);
* ``options``: the options the commands share, each declared once, and how a
  formula that starts with '-' is told from an option;
* ``problem``: the one ``Problem`` every command starts from;
* ``messages``: warnings, notes and errors on stderr;
* ``grad``, ``check``, ``graph``, ``trace``, ``diff``, ``jacobian``, ``hessian``, ``fit``: one
  module per command, each with its --data branch where it has one.

``from autodiff_cli.cli import cli, main`` is the stable entry: ``cli`` is the
click group, ``main`` the console script's function.
"""

from autodiff_cli.cli.app import cli, main, run

__all__ = ["cli", "main", "run"]

