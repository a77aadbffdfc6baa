"""``adiff fit``: minimise a loss summed over the rows of a data file (the optimisers).

Every loss and gradient comes from ``batch.run``, the chunked NumPy pass of
``--data``; this module only decides where to evaluate next. The rows are read
from the file once: ``RowCache`` keeps the columns the formula uses, in memory
when they fit in one chunk, else in an unnamed temporary file of raw doubles
read back a chunk at a time, so memory stays bounded by the chunk size (not the
rows) and later passes do not parse the file again.

Methods: ``gd`` (the lecture's gradient descent), ``momentum``, ``adam`` --
optionally on minibatches drawn reproducibly (``Batches``) -- ``lbfgs``
(SciPy's L-BFGS-B, never a hand-written one) and ``newton`` (exact Hessians of
the summed loss from ``calculus.second``, damped, with a line search).

The stopping rule (``Rule``) is the same for every method: each parameter's
gradient, scaled by the parameter's size, within ``tol`` of the loss's size,
and the last step's loss change within ``tol`` too. A small gradient alone is
not convergence: a loss can flatten out far from any minimum (a plateau), or
keep falling for ever as a parameter grows (separable classes), so where the
rule holds, ``minimum_check`` probes the loss around the point before the fit
is called converged.
"""

from __future__ import annotations

import copy
import math
import time
from array import array

import numpy as np

from autodiff_cli.data.batch import Setup, run, summed_value
from autodiff_cli.errors import EvalError, InputError

METHODS = ("lbfgs", "gd", "momentum", "adam", "newton")
#: L-BFGS reaches the optimum where an unguarded Newton runs off onto a plateau
#: (NOTES, "A fit trap"), and needs no learning rate: the default.
DEFAULT_METHOD = "lbfgs"
DEFAULT_TOL = 1e-7
DEFAULT_STEPS = 1000
#: Learning rates by default. gd and momentum's is per row: divided by the rows
#: with --reduce sum, so the default steps are the same for the sum and the mean.
DEFAULT_LR = {"gd": 0.1, "momentum": 0.1, "adam": 0.01}
DEFAULT_BETA = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8
MINIBATCH_METHODS = ("gd", "momentum", "adam")
#: A loss that moves by no more than this (relative) when a parameter moves is flat there.
FLAT = 1e-12
EPS = 2.0 ** -52
#: Newton: the largest damping tried before giving up on a step.
_MAX_DAMPING = 1e12

#: Why a fit stopped (``FitResult.reason``); documents/fit.py says each in words.
REASONS = ("converged", "step limit", "plateau", "not a minimum", "no minimum", "stalled",
           "interrupted")


# ---------------------------------------------------------------- the rows, kept

class RowCache:
    """The data file's rows as the passes of a fit read them: parsed once.

    Reads like the ``DataFile`` it wraps (its name, columns, delimiter, ...);
    ``chunks(names)`` gives the same chunks every pass. The first pass reads
    the file; the columns it yields are kept in memory when the file is one
    chunk, else written to an unnamed temporary file (raw doubles, a block per
    chunk) that later passes read back one chunk at a time. When that file
    cannot be written (a full disk), later passes read the data file again
    (``warn`` says so); standard input cannot be read again, so then it is an error.
    A chunk read back is the reader's own chunk (a copy of it with its columns
    restored), so it names its rows as the reader does (file, row, line).
    """

    def __init__(self, data, warn=None):
        self.source = data
        self.warn = warn
        self.names: list[str] | None = None
        self.rows = 0
        self.complete = False
        self._memory: list | None = None
        self._spill = None
        self._index: list[tuple] = []  # (the chunk without its columns, offset)
        self._reread = False
        self._buffers = None

    def __getattr__(self, name):
        if name == "source":  # not set yet: never recurse
            raise AttributeError(name)
        return getattr(self.source, name)

    @property
    def chunk_count(self) -> int:
        return len(self._memory) if self._memory is not None else len(self._index)

    def chunks(self, names: list[str]):
        """Every chunk, in order. Read back from the temporary file, a chunk's columns
        live in one of two buffers used in turn: valid while the next chunk is read and
        evaluated, overwritten by the one after (a pass never looks back further; ``chunk``
        gives columns of their own)."""
        if self.complete and not self._reread:
            if list(names) != self.names:
                raise ValueError("RowCache: other columns than the first pass read")
            if self._memory is not None:
                yield from self._memory
                return
            for k in range(self.chunk_count):
                yield self.chunk(k, self._buffers[k % 2])
            return
        yield from self._first_pass(list(names))

    def fill(self, names: list[str]) -> None:
        """Read the rows now if no pass has (the passes of --engine dask run elsewhere)."""
        if not self.complete:
            for _ in self.chunks(names):
                pass

    def chunk(self, k: int, buf=None):
        """Chunk ``k`` (0-based) of a completed first pass (its columns in ``buf`` when
        given, large enough for any chunk, else in arrays of their own)."""
        if self._memory is not None:
            return self._memory[k]
        if self._reread:
            raise ValueError("RowCache: the rows are not kept")
        shell, offset = self._index[k]
        rows = shell.rows
        size = rows * len(self.names)
        buf = np.empty(size, dtype=np.float64) if buf is None else buf[:size]
        spill = self._spill
        spill.seek(offset)
        view = memoryview(buf).cast("B")
        got = 0
        while got < len(view):
            n = spill.readinto(view[got:])
            if not n:
                raise OSError("the temporary file of the rows ended early")
            got += n
        chunk = copy.copy(shell)
        chunk.columns = {name: buf[j * rows:(j + 1) * rows] for j, name in enumerate(self.names)}
        return chunk

    def _first_pass(self, names: list[str]):
        self.names = names
        rows = 0
        first = None
        index: list[tuple] = []
        spill = None
        offset = 0
        failed = self._reread
        for chunk in self.source.chunks(names):
            rows += chunk.rows
            if not failed:
                if spill is None and first is None:
                    first = chunk  # kept in memory: the file may be this one chunk
                else:
                    try:
                        if spill is None:
                            spill = self._open_spill()
                            offset = self._write(spill, first, index, offset)
                            first = None
                        offset = self._write(spill, chunk, index, offset)
                    except OSError as exc:
                        failed = True
                        first = None
                        self._spill_failed(spill, exc)
                        spill = None
            yield chunk
        self.rows = rows
        self.complete = True
        if failed:
            self._reread = True
            return
        if spill is None:
            self._memory = [first] if first is not None else []
        else:
            spill.flush()
            self._spill, self._index = spill, index
            largest = max(shell.rows for shell, _ in index) * len(names)
            self._buffers = (np.empty(largest), np.empty(largest))

    @staticmethod
    def _open_spill():
        import tempfile

        return tempfile.TemporaryFile(prefix="adiff-fit-", suffix=".rows")

    def _write(self, spill, chunk, index: list, offset: int) -> int:
        for name in self.names:
            spill.write(memoryview(np.ascontiguousarray(chunk.columns[name], dtype=np.float64)))
        shell = copy.copy(chunk)
        shell.columns = {}
        index.append((shell, offset))
        return offset + 8 * chunk.rows * len(self.names)

    def _spill_failed(self, spill, exc: OSError) -> None:
        if spill is not None:
            try:
                spill.close()
            except OSError:
                pass
        reason = exc.strerror or str(exc)
        if self.source.path == "-":
            raise InputError(f"cannot keep the rows of standard input for the passes of the fit "
                             f"(a temporary file: {reason})",
                             hint="write the data to a file and pass its path, or set TMPDIR to "
                                  "a directory with room") from None
        if self.warn:
            self.warn(f"cannot keep the rows in a temporary file ({reason}): every step reads "
                      f"{self.source.shown} again")

    def close(self) -> None:
        if self._spill is not None:
            spill, self._spill = self._spill, None
            try:
                spill.close()
            except OSError:
                pass


class Batch:
    """A minibatch, read like a chunk by ``batch.run``: rows drawn from anywhere in the
    file. Each row remembers the chunk it came from and its place there, so an error
    names it as the reader would (``row_text``); ``index`` is each row's 0-based number
    in the data (files of a glob counted in turn)."""

    def __init__(self, columns: dict, sources: list, origin, offset):
        self.columns = columns
        self.rows = len(offset)
        self.first, self.line = 0, 0
        self._sources, self._origin, self._offset = sources, origin, offset

    @property
    def index(self):
        firsts = np.array([c.first for c in self._sources], dtype=np.int64)
        return firsts[self._origin] + self._offset

    def row_text(self, r: int) -> str:
        chunk = self._sources[int(self._origin[r])]
        k = int(self._offset[r])
        if hasattr(chunk, "row_text"):
            return chunk.row_text(k)
        return f"row {chunk.first + k + 1:,}, line {chunk.line + k:,}"


class Batches:
    """Minibatches of ``size`` rows, without replacement, epoch after epoch, reproducibly.

    Each epoch visits the chunks in a shuffled order and the rows of each chunk
    in a shuffled order (``seed`` fixes both), so memory stays bounded by the
    chunk and the batch size; a file of one chunk is shuffled as a whole. Every
    row is used once per epoch; the epoch's last batch may be smaller.
    """

    def __init__(self, cache: RowCache, size: int, seed: int):
        self.cache, self.size = cache, size
        self.rng = np.random.default_rng(seed)

    def epoch(self):
        cache, size, rng = self.cache, self.size, self.rng
        pieces, have = [], 0
        for k in rng.permutation(cache.chunk_count):
            chunk = cache.chunk(int(k))
            order = rng.permutation(chunk.rows)
            pos = 0
            while pos < chunk.rows:
                take = min(size - have, chunk.rows - pos)
                pieces.append((chunk, order[pos:pos + take]))
                pos += take
                have += take
                if have == size:
                    yield self._batch(pieces)
                    pieces, have = [], 0
        if pieces:
            yield self._batch(pieces)

    def _batch(self, pieces) -> Batch:
        names = self.cache.names
        columns = {name: np.concatenate([c.columns[name][sel] for c, sel in pieces])
                   for name in names}
        sources = []
        for c, _ in pieces:
            if not sources or sources[-1] is not c:
                sources.append(c)
        position = {id(c): k for k, c in enumerate(sources)}
        origin = np.concatenate([np.full(len(sel), position[id(c)]) for c, sel in pieces])
        offset = np.concatenate([sel for _, sel in pieces])
        return Batch(columns, sources, origin, offset)


class _BatchData:
    """The data of one minibatch, read like a data file by ``batch.run``."""

    def __init__(self, data, batch: Batch):
        self._data, self._batch = data, batch

    def __getattr__(self, name):
        return getattr(self._data, name)

    def chunks(self, names):
        yield self._batch


class _BatchSetup(Setup):
    """``setup`` over one minibatch: the same formula, parameters and point (``at`` is
    shared), evaluated here (never on a cluster), and row texts that name each row's
    place in the file."""

    engine = None

    def __init__(self, setup: Setup, batch: Batch):  # a view: no Setup.__init__
        self.__dict__.update(setup.__dict__)
        self.__dict__.pop("engine", None)
        self.data = _BatchData(setup.data, batch)

    def row_text(self, chunk, r: int) -> str:
        return chunk.row_text(r)


# ---------------------------------------------------------------- the objective

class Objective:
    """L(θ) over the rows (``batch.run``) plus ``l2``·Σθ², with its gradient; counts passes.

    ``setup.at`` holds the point: the fitted ``params`` are written into it
    before each pass (the fixed parameters keep their --at values).
    """

    def __init__(self, setup: Setup, params: list[str], l2: float = 0.0):
        self.setup, self.params, self.l2 = setup, list(params), float(l2)
        self.passes = 0
        self.rows = 0
        self.totals = None  # the last full pass (its kinks are warned about) ...
        self.totals_at = b""  # ... and where it was taken

    def _set(self, theta) -> None:
        at = self.setup.at
        for name, v in zip(self.params, theta):
            at[name] = float(v)

    def _penalty(self, theta) -> float:
        return self.l2 * float(np.dot(theta, theta)) if self.l2 else 0.0

    def full(self, theta):
        """(loss, gradient) over every row."""
        self._set(theta)
        t = run(self.setup)
        self.passes += 1
        self.rows = t.rows
        self.totals, self.totals_at = t, np.asarray(theta, dtype=np.float64).tobytes()
        grad = np.array([t.gradient[p] for p in self.params], dtype=np.float64)
        if self.l2:
            grad += 2.0 * self.l2 * theta
        return t.value + self._penalty(theta), grad

    def value(self, theta) -> float:
        """The loss alone (a forward pass over every row)."""
        self._set(theta)
        v = summed_value(self.setup, self.setup.at)
        self.passes += 1
        if not math.isfinite(v):
            raise EvalError(f"the {self.setup.reduce} of the formula over the rows overflows a "
                            "double-precision float")
        return v + self._penalty(theta)

    def minibatch(self, theta, batch: Batch):
        """(loss, gradient) estimated from one minibatch: with --reduce sum, the batch's
        sum scaled to the whole file (rows / batch rows), so the steps match full-batch ones."""
        self._set(theta)
        t = run(_BatchSetup(self.setup, batch))
        scale = self.rows / batch.rows if self.setup.reduce == "sum" else 1.0
        grad = np.array([t.gradient[p] for p in self.params], dtype=np.float64) * scale
        if self.l2:
            grad += 2.0 * self.l2 * theta
        return t.value * scale + self._penalty(theta), grad


# ---------------------------------------------------------------- the stopping rule

class Rule:
    """Converged when, at the current point, for every parameter θᵢ,

        |∂L/∂θᵢ|·max(1, |θᵢ|) ≤ tol·max(1, |L|)

    (moving any parameter by a fraction δ of its size changes the loss by at most
    tol·δ of its size, to first order), and the last step changed the loss by at
    most tol·max(1, |L|). Scaled so that --reduce sum and mean, and parameters of
    any size, stop alike.
    """

    TEXT = ("|∂L/∂θ|·max(1, |θ|) ≤ tol·max(1, |L|) for every parameter, "
            "and |ΔL| ≤ tol·max(1, |L|) over the last step")

    def __init__(self, tol: float):
        self.tol = tol

    def limit(self, loss: float) -> float:
        return self.tol * max(1.0, abs(loss))

    def measure(self, theta, grad) -> float:
        if not len(grad):
            return 0.0
        return float(np.max(np.abs(grad) * np.maximum(1.0, np.abs(theta))))

    def check(self, loss: float, previous: float | None, theta, grad) -> dict:
        limit = self.limit(loss)
        g = self.measure(theta, grad)
        change = None if previous is None else abs(previous - loss)
        return {"gradient": g, "loss_change": change, "limit": limit,
                "gradient_ok": g <= limit,
                "loss_change_ok": change is None or change <= limit,
                "ok": g <= limit and (change is None or change <= limit)}


def minimum_check(objective: Objective, theta, loss: float, tol: float) -> dict:
    """Whether ``theta`` looks like a minimum, not just a point of small gradient.

    Each parameter is moved by h = √tol·max(1, |θᵢ|) either way (2 forward passes
    each): where the loss does not change at all (within 1e-12 of itself) it is
    flat along that parameter -- a plateau; where it drops by more than the rule's
    tolerance, the point is not a minimum. Then the parameters are scaled by 1.1
    and 2: a loss that keeps falling, to under half of itself, has no minimum in
    that direction (separable classes make the logistic loss do that).
    """
    limit = tol * max(1.0, abs(loss))
    flat_limit = FLAT * abs(loss)
    flat, lower, edges = [], [], []
    for i, name in enumerate(objective.params):
        h = math.sqrt(tol) * max(1.0, abs(float(theta[i])))
        changes = []
        for sign in (1.0, -1.0):
            probe = np.array(theta, dtype=np.float64)
            probe[i] += sign * h
            try:
                changes.append(objective.value(probe) - loss)
            except EvalError:
                edges.append(name)  # the loss's domain ends within h: a side not seen
        if not changes:
            continue
        if min(changes) < -limit:
            lower.append({"param": name, "step": h, "change": min(changes)})
        elif max(abs(c) for c in changes) <= flat_limit:
            flat.append(name)
    ray = None
    if np.any(theta != 0) and not lower and not flat:
        try:
            near = objective.value(np.asarray(theta) * 1.1)
            far = objective.value(np.asarray(theta) * 2.0)
            if near < loss and far < near and far < 0.5 * loss and loss > 0:
                ray = {"near": near, "far": far}
        except EvalError:
            pass
    return {"flat": flat, "lower": lower, "edges": sorted(set(edges)), "falls": ray,
            "ok": not flat and not lower and ray is None}


def precision_limit(objective: Objective, theta, loss: float, grad, tol: float) -> dict:
    """Whether a fit that stalled (no line search lowers the loss) stalled because double
    precision cannot show the loss falling any further, though the gradient is above the
    rule's limit: the best decrease a step along the gradient could make, ‖g‖²/(2κ) with κ
    the curvature along g (a difference of gradients, one pass), is within the rounding
    error of the loss itself (``batch.run``'s estimate, one pass). Then the point is as
    close to the minimum as doubles can tell, and the rule's gradient test is waived."""
    out = {"reached": False, "decrease": None, "noise": None}
    norm = float(np.linalg.norm(grad))
    if not norm or not math.isfinite(norm):
        return out
    u = np.asarray(grad) / norm
    h = math.sqrt(tol) * max(1.0, float(np.max(np.abs(theta))))
    try:
        _, moved = objective.full(np.asarray(theta) - h * u)
        objective._set(theta)
        totals = run(objective.setup, noise=True)
        objective.passes += 1
    except EvalError:
        return out
    curvature = float(np.dot(u, np.asarray(grad) - moved)) / h
    noise = float(totals.noise) + 4 * EPS * (abs(loss) + objective._penalty(theta))
    out["noise"] = noise
    if curvature <= 0 or not math.isfinite(curvature):
        return out
    out["decrease"] = norm * norm / (2.0 * curvature)
    out["reached"] = bool(out["decrease"] <= 4.0 * noise)
    return out


# ---------------------------------------------------------------- the fit

class Options:
    """How to fit: the method and its settings (defaults as the module's constants)."""

    def __init__(self, method: str = DEFAULT_METHOD, *, lr: float | None = None,
                 steps: int = DEFAULT_STEPS, tol: float = DEFAULT_TOL, beta: float = DEFAULT_BETA,
                 batch_size: int | None = None, seed: int = 0, l2: float = 0.0):
        if method not in METHODS:
            raise InputError(f"--method {method}: expected one of {', '.join(METHODS)}")
        self.method, self.lr, self.steps, self.tol = method, lr, steps, tol
        self.beta, self.batch_size, self.seed, self.l2 = beta, batch_size, seed, l2


class History:
    """The loss and the gradient norm (max |∂L/∂θᵢ|) at each step, 16 bytes a step."""

    def __init__(self):
        self.loss = array("d")
        self.gradient_norm = array("d")

    def add(self, loss: float, grad) -> None:
        self.loss.append(loss)
        self.gradient_norm.append(float(np.max(np.abs(grad))) if len(grad) else 0.0)

    def __len__(self) -> int:
        return len(self.loss)


class FitResult:
    """Where a fit ended: the fitted point, its loss and gradient, and why it stopped."""

    def __init__(self, params, initial, method: str):
        self.params = list(params)
        self.initial = np.array(initial, dtype=np.float64)
        self.method = method
        self.theta = self.initial.copy()
        self.loss = math.nan
        self.gradient = np.zeros(len(params))
        self.steps = 0
        self.converged = False
        self.reason = "step limit"
        self.check: dict = {}
        self.minimum: dict | None = None
        self.interrupted = False
        self.history = History()
        self.epochs: list[dict] = []  # minibatches: the full loss at the end of each epoch
        self.seconds = 0.0
        self.passes = 0
        self.rows = 0
        self.lr: float | None = None
        self.scipy: str | None = None  # L-BFGS: SciPy's own message
        #: the last trial point where the loss could not be evaluated (L-BFGS, Newton)
        self.beyond: str | None = None
        #: a stall: whether double precision could show any further decrease of the loss
        self.precision: dict | None = None
        self.totals = None  # the last full pass over the rows (``batch.Totals``)


def _hold_sigint():
    """Block SIGINT in this thread (delivered when released); None where that is not possible."""
    import signal

    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, ValueError, OSError):
        return None


def _release_sigint(held) -> None:
    if held is not None:
        import signal

        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class _Best:
    """The lowest loss seen at a fully evaluated point (what Ctrl-C reports)."""

    def __init__(self):
        self.loss = math.inf
        self.theta = None
        self.grad = None

    def see(self, loss, theta, grad) -> None:
        if loss < self.loss:
            self.loss, self.theta, self.grad = loss, np.array(theta), np.array(grad)


def fit(objective: Objective, initial, options: Options, *, on_step=None, warn=None,
        cache: RowCache | None = None) -> FitResult:
    """Minimise the objective from ``initial`` (in ``objective.params`` order).

    ``on_step(step, loss, gradient, theta)`` is called at each step's point (step 0
    is the start); ``warn(text)`` receives warnings. A Ctrl-C ends the fit at the
    best point fully evaluated so far, with ``interrupted`` set.
    """
    result = FitResult(objective.params, initial, options.method)
    rule = Rule(options.tol)
    best = _Best()
    if options.method == "lbfgs":
        import scipy.optimize  # noqa: F401 - imported before the clock starts (0.2-0.4 s)
    started = time.monotonic()
    say = warn or (lambda _text: None)

    def record(step, loss, grad, theta, full=True):
        # The best point, the history and --history's line change together: a Ctrl-C is
        # held back (SIGINT blocked) while they do, so the point reported is the history's
        # best. ``full``: the loss is the whole data's (not a minibatch's).
        held = _hold_sigint()
        try:
            if full:
                best.see(loss, theta, grad)
            result.history.add(loss, grad)
            if on_step:
                on_step(step, loss, grad, theta)
        finally:
            _release_sigint(held)

    try:
        try:
            if options.method == "lbfgs":
                _lbfgs(objective, result, options, rule, best, record)
            elif options.method == "newton":
                _newton(objective, result, options, rule, best, record, cache)
            elif options.batch_size:
                _minibatch(objective, result, options, rule, best, record, cache, say)
            else:
                _first_order(objective, result, options, rule, best, record, say)
        except KeyboardInterrupt:
            result.interrupted = True
            result.converged = False
            result.reason = "interrupted"
            if best.theta is not None:
                result.theta, result.loss, result.gradient = best.theta, best.loss, best.grad
            result.check = rule.check(result.loss, None, result.theta, result.gradient) \
                if best.theta is not None else {}
            return result
        if result.reason == "stalled" and result.check and not result.check["ok"]:
            result.precision = precision_limit(objective, result.theta, result.loss,
                                               result.gradient, options.tol)
            if result.precision["reached"]:
                result.check["ok"] = True
        if result.check.get("ok") and result.reason in ("converged", "stalled"):
            result.minimum = minimum_check(objective, result.theta, result.loss, options.tol)
            if result.minimum["ok"]:
                result.converged, result.reason = True, "converged"
            else:
                result.converged = False
                result.reason = ("plateau" if result.minimum["flat"] else
                                 "not a minimum" if result.minimum["lower"] else "no minimum")
        else:
            result.converged = False
    finally:
        result.seconds = time.monotonic() - started
        result.passes = objective.passes
        result.rows = objective.rows
        if objective.totals_at == result.theta.tobytes():
            result.totals = objective.totals  # the pass at the fitted point: its kinks
        objective._set(result.theta)  # the probes of the checks moved it
    return result


def _step_error(exc: EvalError, step: int, method: str, options: Options, lr) -> EvalError:
    """A non-finite loss (or a value outside a function's domain) at ``step``: say so,
    keeping the node and the row the engine named."""
    if step == 0:
        exc.message = f"at the starting point: {exc.message}"
        exc.hint = exc.hint or "start elsewhere with --at"
    else:
        exc.message = f"at step {step:,} of {method}: {exc.message}"
        if lr is not None:
            exc.hint = exc.hint or (f"the steps may be too large for this loss: try a smaller "
                                    f"--lr (it is {lr:g}), or --method lbfgs, which needs none")
        else:
            exc.hint = exc.hint or "start elsewhere with --at, or try another --method"
    return exc


def _learning_rate(objective: Objective, options: Options) -> float:
    if options.lr is not None:
        return options.lr
    lr = DEFAULT_LR[options.method]
    if options.method != "adam" and objective.setup.reduce == "sum" and objective.rows:
        lr /= objective.rows
    return lr


def _finish(result: FitResult, theta, loss, grad, step: int, check: dict, reason: str) -> None:
    result.theta, result.loss, result.gradient = np.array(theta), loss, np.array(grad)
    result.steps, result.check, result.reason = step, check, reason


def _first_order(objective, result, options, rule, best, record, say) -> None:
    """Full-batch gd, momentum or adam."""
    theta = result.initial.copy()
    try:
        loss, grad = objective.full(theta)
    except EvalError as exc:
        raise _step_error(exc, 0, options.method, options, None) from None
    lr = result.lr = _learning_rate(objective, options)
    record(0, loss, grad, theta)
    check = rule.check(loss, None, theta, grad)
    _finish(result, theta, loss, grad, 0, check, "step limit")
    if check["ok"]:
        result.reason = "converged"
        return
    update = _updater(options, lr, len(theta))
    rising = 0
    for step in range(1, options.steps + 1):
        theta = theta - update(grad, step)
        previous = loss
        try:
            loss, grad = objective.full(theta)
        except EvalError as exc:
            raise _step_error(exc, step, options.method, options, lr) from None
        record(step, loss, grad, theta)
        check = rule.check(loss, previous, theta, grad)
        _finish(result, theta, loss, grad, step, check, "step limit")
        rising = rising + 1 if loss > previous else 0
        if rising == 5:
            say(f"the loss rose for 5 steps in a row (to {loss:.6g} at step {step:,}): the "
                f"learning rate (--lr {lr:g}) may be too large")
        if check["ok"]:
            result.reason = "converged"
            return


def _updater(options: Options, lr: float, n: int):
    """The step θ ← θ − update(g, t) of gd, momentum or adam."""
    method, beta = options.method, options.beta
    if method == "gd":
        return lambda g, t: lr * g
    if method == "momentum":
        velocity = np.zeros(n)

        def momentum(g, t):
            velocity[:] = beta * velocity + lr * g
            return velocity.copy()
        return momentum
    m, v = np.zeros(n), np.zeros(n)

    def adam(g, t):
        m[:] = beta * m + (1 - beta) * g
        v[:] = ADAM_BETA2 * v + (1 - ADAM_BETA2) * g * g
        m_hat = m / (1 - beta ** t)
        v_hat = v / (1 - ADAM_BETA2 ** t)
        return lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)
    return adam


def _minibatch(objective, result, options, rule, best, record, cache, say) -> None:
    """gd, momentum or adam on minibatches; the rule is checked on the whole data at the
    end of each epoch (a minibatch's gradient is an estimate, never small for sure)."""
    theta = result.initial.copy()
    try:
        loss, grad = objective.full(theta)  # also reads the rows, once
    except EvalError as exc:
        raise _step_error(exc, 0, options.method, options, None) from None
    lr = result.lr = _learning_rate(objective, options)
    record(0, loss, grad, theta)
    result.epochs.append({"epoch": 0, "step": 0, "loss": loss})
    check = rule.check(loss, None, theta, grad)
    _finish(result, theta, loss, grad, 0, check, "step limit")
    if check["ok"]:
        result.reason = "converged"
        return
    cache.fill(objective.setup.columns)
    batches = Batches(cache, options.batch_size, options.seed)
    update = _updater(options, lr, len(theta))
    step, epoch, epoch_loss = 0, 0, loss
    while step < options.steps:
        epoch += 1
        for batch in batches.epoch():
            step += 1
            theta = theta - update(grad, step)
            try:
                batch_loss, grad = objective.minibatch(theta, batch)
            except EvalError as exc:
                raise _step_error(exc, step, options.method, options, lr) from None
            record(step, batch_loss, grad, theta, full=False)
            if step >= options.steps:
                break
        try:
            full_loss, full_grad = objective.full(theta)
        except EvalError as exc:
            raise _step_error(exc, step, options.method, options, lr) from None
        best.see(full_loss, theta, full_grad)
        result.epochs.append({"epoch": epoch, "step": step, "loss": full_loss})
        check = rule.check(full_loss, epoch_loss, theta, full_grad)
        _finish(result, theta, full_loss, full_grad, step, check, "step limit")
        epoch_loss = full_loss
        if check["ok"]:
            result.reason = "converged"
            return


def _lbfgs(objective, result, options, rule, best, record) -> None:
    """SciPy's L-BFGS-B; each of its iterations is a step, and the rule decides when to stop.

    SciPy's own tests are turned off (gtol = ftol = 0) so that every method stops by
    the same rule; it still ends on its own when its line search can make no progress.
    A trial point where the loss is not finite (outside a function's domain, an
    overflow) gets a large finite loss, so the line search steps back instead of
    ending the fit there.
    """
    from scipy.optimize import minimize

    theta0 = result.initial.copy()
    try:
        loss0, grad0 = objective.full(theta0)
    except EvalError as exc:
        raise _step_error(exc, 0, "lbfgs", options, None) from None
    record(0, loss0, grad0, theta0)
    state = {"previous": loss0, "step": 0, "last": (theta0.tobytes(), loss0, grad0)}
    check = rule.check(loss0, None, theta0, grad0)
    _finish(result, theta0, loss0, grad0, 0, check, "step limit")
    if check["ok"]:
        result.reason = "converged"
        return
    if options.steps == 0:
        return
    wall = 10.0 * (1.0 + abs(loss0))  # a loss no iterate will ever have: above the start's

    def fun(theta):
        try:
            loss, grad = objective.full(theta)
        except EvalError as exc:
            result.beyond = exc.message
            return best.loss + wall, np.zeros_like(theta)
        state["last"] = (theta.tobytes(), loss, grad)
        best.see(loss, theta, grad)
        return loss, grad

    def callback(intermediate_result):
        theta = np.array(intermediate_result.x)
        key, loss, grad = state["last"]
        if key != theta.tobytes():  # SciPy reports the point it evaluated last, as a rule
            loss, grad = fun(theta)
        state["step"] += 1
        step = state["step"]
        record(step, loss, grad, theta)
        check = rule.check(loss, state["previous"], theta, grad)
        state["previous"] = loss
        _finish(result, theta, loss, grad, step, check, "step limit")
        if check["ok"]:
            result.reason = "converged"
            raise StopIteration

    outcome = minimize(fun, theta0, jac=True, method="L-BFGS-B", callback=callback,
                       options={"maxiter": options.steps, "maxfun": max(100, 20 * options.steps),
                                "gtol": 0.0, "ftol": 0.0, "maxls": 40})
    result.scipy = str(outcome.message)
    if result.reason == "converged":
        return
    if outcome.nfev >= max(100, 20 * options.steps):  # its own limit of evaluations: a limit too
        return
    if result.steps < options.steps:
        # SciPy stopped by itself: no line search could lower the loss. At the precision
        # limit the rule holds for the point it ended at, or it does not.
        theta = np.array(outcome.x)
        key, loss, grad = state["last"]
        if key != theta.tobytes():
            loss, grad = fun(theta)
        if loss <= result.loss:
            _finish(result, theta, loss, grad, result.steps, rule.check(loss, None, theta, grad),
                    "stalled")
        result.reason = "stalled"
        # No step can change the loss any more: the loss-change half of the rule holds by
        # itself, and the gradient half decides (then the minimum check, as ever).
        result.check["loss_change_ok"] = True
        result.check["ok"] = result.check["gradient_ok"]


def newton_available() -> bool:
    """Whether the exact Hessian of a summed loss exists (``calculus.second.summed_hessian``)."""
    try:
        from autodiff_cli.calculus import second
    except ImportError:
        return False
    return hasattr(second, "summed_hessian")


def _newton(objective, result, options, rule, best, record, cache=None) -> None:
    """Damped Newton: solve (H + μI)·s = −g with μ ≥ 0 the least that makes the matrix
    positive definite (so every step goes downhill), then backtrack along s until the
    loss falls (Armijo). An undamped Newton step runs off to plateaus (NOTES: "A fit
    trap"); this one cannot climb, and the minimum check still follows the rule."""
    hessian = _hessian(objective, cache)
    theta = result.initial.copy()
    try:
        loss, grad, H = hessian(theta)
    except EvalError as exc:
        raise _step_error(exc, 0, "newton", options, None) from None
    record(0, loss, grad, theta)
    check = rule.check(loss, None, theta, grad)
    _finish(result, theta, loss, grad, 0, check, "step limit")
    if check["ok"]:
        result.reason = "converged"
        return
    n = len(theta)
    for step in range(1, options.steps + 1):
        s = _damped_step(H, grad, n)
        if s is None:
            result.reason = "stalled"
            return
        slope = float(np.dot(grad, s))
        t, moved = 1.0, False
        while t > 1e-12:
            trial = theta + t * s
            try:
                value = objective.value(trial)
            except EvalError as exc:
                result.beyond = exc.message
                value = math.inf
            if value <= loss + 1e-4 * t * slope:
                moved = True
                break
            t *= 0.5
        if not moved:
            result.reason = "stalled"
            return
        previous = loss
        theta = trial
        try:
            loss, grad, H = hessian(theta)
        except EvalError as exc:
            raise _step_error(exc, step, "newton", options, None) from None
        record(step, loss, grad, theta)
        check = rule.check(loss, previous, theta, grad)
        _finish(result, theta, loss, grad, step, check, "step limit")
        if check["ok"]:
            result.reason = "converged"
            return


def _damped_step(H, grad, n: int):
    """−(H + μI)⁻¹·g for the least μ in 0, 1e-8·scale, ×10, ... that allows a Cholesky."""
    scale = max(1e-300, float(np.max(np.abs(np.diag(H)))) if n else 1.0)
    mu = 0.0
    while mu <= _MAX_DAMPING * scale:
        try:
            c = np.linalg.cholesky(H + mu * np.eye(n))
        except np.linalg.LinAlgError:
            mu = 1e-8 * scale if mu == 0.0 else mu * 10.0
            continue
        y = np.linalg.solve(c, -grad)
        return np.linalg.solve(c.T, y)
    return None


def _hessian(objective: Objective, cache: RowCache | None = None):
    """(loss, gradient, Hessian) of the objective at θ: the Hessian of the loss summed over
    the rows chunk by chunk (``calculus.second.summed_hessian``, exact: forward over
    reverse), divided by the rows for the mean, plus 2·l2·I."""
    from autodiff_cli.calculus.second import summed_hessian

    setup, params, l2 = objective.setup, objective.params, objective.l2
    graph = setup.graph
    rows = cache if cache is not None else setup.data  # in this process, also with Dask

    def hessian(theta):
        objective._set(theta)
        total = None
        for chunk in rows.chunks(setup.columns):
            part = summed_hessian(graph, chunk.columns, setup.at, params,
                                  row_text=lambda r, c=chunk: setup.row_text(c, r))
            total = part if total is None else total + part
        objective.passes += 1
        objective.rows = total.rows
        if setup.reduce == "mean":
            total = total.scaled(1.0 / total.rows)
        if not math.isfinite(total.value):
            raise EvalError(f"the {setup.reduce} of the formula over the rows overflows a "
                            "double-precision float")
        grad = np.array(total.gradient, dtype=np.float64)
        H = np.array(total.hessian, dtype=np.float64)
        if l2:
            grad += 2.0 * l2 * theta
            H += 2.0 * l2 * np.eye(len(params))
        return total.value + objective._penalty(theta), grad, H

    return hessian
