"""``--engine dask``: the partitions of the data evaluated on a Dask cluster, summed here.

The data's files are cut into partitions, the reader's parts (``DataFile.parts``:
a CSV file, or a row group of a Parquet file); each is one task, a
``dask.distributed`` future over the reader's own per-part reading
(``reader.read_part``), not a Dask dataframe, because:

* a partition is read by the same reader as the one-process engine, so a bad
  cell is the same input error, naming the file, line and column (a Dask
  dataframe's pandas errors name neither), and nothing is converted twice;
* each partition is scanned by the same NumPy evaluator (``batch.scan``, the
  code of the one-process engine), chunk by chunk, and its result is every
  chunk's sums; ``batch.finish`` adds the chunks' sums with ``math.fsum``,
  which is correctly rounded whatever the order, so the value and gradient
  are the one-process engine's bit for bit wherever the chunks are the same
  (every CSV file; Parquet row groups of a multiple of --chunk-size rows), and
  otherwise differ only by the rounding of a chunk's own NumPy sum.

Without ``--scheduler`` a ``LocalCluster`` starts with one single-threaded
worker process per core (processes, because NumPy's small-array work holds
the GIL), on loopback, without a dashboard, and stops with the command; its
workers leave Ctrl-C to this process (``_HoldCtrlC``). With ``--scheduler
tcp://HOST:PORT`` the tasks run on that cluster; every worker needs adiff
(this version) installed and the data files at the same paths (they are sent
as absolute paths; messages name them as given). On any worker, glibc's
allocator keeps the memory a chunk frees, as in one process
(``reader.keep_freed_heap``).

Faults: a worker that dies mid-run has its partitions rescheduled by Dask (up
to ``distributed.scheduler.allowed-failures`` times, then an input error
naming the partition); a partition's input or evaluation error is raised here
as it would be in this process (the error of the earliest failing partition,
the later ones cancelled); an unreachable scheduler, or one without workers,
is an input error after ``CONNECT_TIMEOUT`` seconds, and so is a scheduler
lost mid-run. Dask's own log lines (tracebacks of what it recovers from) are
silenced while the engine runs.

Task keys are ``adiff-setup-…`` (the formula, sent once per run) and
``adiff-partition-…`` (one per partition and pass), as the dashboard shows them.

Imported only under ``--engine dask``; Dask is an optional extra
(``pip install 'adiff[dask]'``).
"""

from __future__ import annotations

import os
import uuid

from autodiff_cli.errors import InputError, clip, escape_controls

#: Seconds to wait for a --scheduler to answer, and for it to have a worker.
CONNECT_TIMEOUT = 5.0
#: The Dask install adiff asks for when it is missing.
INSTALL = "pip install 'adiff[dask]'"
#: A LocalCluster without a dashboard, whose scheduler's HTTP server (which it starts
#: anyway, by default on port 8787 with a warning when that is taken) takes a free
#: loopback port.
LOCAL_QUIET = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}
#: Schemes of a --scheduler address (dask.distributed's communication backends).
SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")


def require() -> None:
    """An InputError when Dask (with dask.distributed) is not installed."""
    import importlib.util

    try:
        found = all(importlib.util.find_spec(m) is not None for m in ("dask", "distributed"))
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken install
        found = False
    if not found:
        raise InputError("--engine dask needs Dask (dask and dask.distributed), which is not "
                         "installed", hint=f"install it with: {INSTALL}")


def check_address(text: str) -> str:
    """A --scheduler address as Dask takes it: tcp://HOST:PORT (HOST:PORT means tcp)."""
    shown = escape_controls(clip(text, 80))
    address = text.strip()
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in SCHEMES:
        raise InputError(f"--scheduler {shown}: unknown scheme {escape_controls(clip(scheme))!r}",
                         hint="expected an address like tcp://HOST:PORT (the one `dask scheduler` "
                              "prints)")
    if scheme in ("tcp", "tls", "ws", "wss"):
        host, colon, port = rest.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 \
                or "/" in host or any(c.isspace() for c in host):
            raise InputError(f"--scheduler {shown}: expected an address like tcp://HOST:PORT",
                             hint="the one `dask scheduler` prints, e.g. tcp://127.0.0.1:8786")
    return f"{scheme}://{rest}"


# ---------------------------------------------------------------- partitions

def check_path(path: str) -> None:
    """--data - with --engine dask: an InputError (standard input has no partitions)."""
    if path == "-":
        raise InputError("--engine dask reads files, and standard input (--data -) cannot be cut "
                         "into partitions", hint="save the data to a file, or drop --engine dask")


class Partition:
    """One task's data: a ``reader.Part`` (a CSV file, or a row group of a Parquet file)
    with an absolute path, so that a worker started in another folder finds it; ``name``
    is the path as given, which the messages name; ``size`` its bytes (progress)."""

    __slots__ = ("part", "name", "size", "groups")

    def __init__(self, part, name: str, size: int, groups: int = 1):
        self.part, self.name, self.size = part, name, size
        self.groups = groups  # row groups in its file (a CSV file: 1)

    def __getstate__(self):
        return (self.part, self.name, self.size, self.groups)

    def __setstate__(self, state):
        self.part, self.name, self.size, self.groups = state

    def __repr__(self) -> str:
        group = "" if self.part.row_group is None else f", row group {self.part.row_group}"
        return f"Partition({self.name!r}{group})"

    def where(self) -> str:
        """The partition in words: ``d.csv``, ``d.parquet (row group 3)``."""
        shown = escape_controls(self.name)
        return shown if self.part.row_group is None or self.groups < 2 else \
            f"{shown} (row group {self.part.row_group})"


def partitions(data) -> list[Partition]:
    """The partitions of ``data`` (``reader.DataFile``): its parts, in the order of the rows."""
    import dataclasses

    check_path(data.path)
    out = []
    parts = data.parts()
    rows: dict[str, int] = {}
    groups: dict[str, int] = {}
    for part in parts:
        groups[part.path] = groups.get(part.path, 0) + 1
        if part.rows is not None:
            rows[part.path] = rows.get(part.path, 0) + part.rows
    for part in parts:
        try:
            size = os.path.getsize(part.path)
        except OSError:
            size = 0
        if part.rows is not None and rows.get(part.path):
            size = size * part.rows // rows[part.path]
        path = os.path.abspath(part.path)
        out.append(Partition(dataclasses.replace(part, path=path), part.path, size,
                             groups[part.path]))
    return out


def read(partition: Partition, names: list[str], chunk_rows: int, single: bool):
    """The chunks of one partition, read on a worker by the one-process engine's reader
    (``reader.read_part``), named as the user named the file; rows numbered from 0 in the
    partition (``Chunk.first``: the client adds the rows of the partitions before it)."""
    from autodiff_cli.data.reader import read_part

    absolute = escape_controls(partition.part.path)
    shown = escape_controls(partition.name)
    try:
        for chunk in read_part(partition.part, names, chunk_rows, first=0, require_rows=single):
            chunk.file = shown
            yield chunk
    except InputError as exc:
        if absolute != shown:
            exc.message = exc.message.replace(absolute, shown)
        raise


# ---------------------------------------------------------------- on a worker

class _Named:
    """What a worker's ``Setup`` knows of its data: the name of its partition's file."""

    def __init__(self, partition: Partition):
        self.name = partition.name
        self.shown = escape_controls(partition.name)


def _hold(setup):
    """The formula and its roles, unpickled once on each worker that runs a partition."""
    return setup


def scan_part(setup, version: str, at: dict, opts, partition: Partition, chunk_rows: int,
              single: bool):
    """A worker's task: the sums of one partition (``batch.Partial``), by ``batch.scan``."""
    from autodiff_cli import __version__
    from autodiff_cli.data.batch import scan
    from autodiff_cli.data.reader import keep_freed_heap

    if version != __version__:
        raise InputError(f"a Dask worker runs adiff {__version__}, and this is adiff {version}",
                         hint="install the same version of adiff on every worker")
    keep_freed_heap(over_environment=True)  # not the nanny's MALLOC_TRIM_THRESHOLD_
    setup.plan()  # made once on the worker's copy, which the shell shares
    shell = type(setup).__new__(type(setup))
    shell.__dict__.update(setup.__dict__, at=dict(at), data=_Named(partition))
    return scan(shell, read(partition, setup.columns, chunk_rows, single), at, opts)


# ---------------------------------------------------------------- the engine

def attach(setup, scheduler: str | None = None, on_close=None):
    """Run the passes over ``setup`` (``batch.Setup``) on Dask: its ``engine`` becomes a
    ``DaskEngine`` for its data file. ``on_close(f)`` registers the engine's ``close``
    (the command line: ``click.Context.call_on_close``); without it, the process's exit
    stops the cluster. Returns the engine."""
    engine = DaskEngine(setup.data, scheduler)
    if on_close is None:
        import atexit

        on_close = atexit.register
    on_close(engine.close)
    setup.engine = engine
    return engine


class DaskEngine:
    """Runs the passes of ``batch.run`` and ``batch.summed_value`` on a Dask cluster.

    The cluster (a ``LocalCluster``, or the client of ``scheduler``) starts at the
    first pass and serves every pass over ``data`` of the command (the finite
    differences of ``check``, the steps of ``fit``); ``close`` stops it.
    """

    name = "dask"

    def __init__(self, data, scheduler: str | None = None, workers: int | None = None):
        self.data = data
        self.scheduler = scheduler
        self.workers = workers
        self.client = None
        self.cluster = None
        self._parts: list[Partition] | None = None
        self._setup = None  # the setup whose formula the workers hold (``_held``)
        self._held = None
        self._log_levels = None  # Dask's loggers' levels, while the engine runs

    # ------------------------------------------------------------ the cluster

    def start(self):
        """The client, connecting to --scheduler or starting a local cluster first."""
        if self.client is not None:
            return self.client
        import logging

        from dask.distributed import Client

        # Dask logs what it copes with (a lost connection, a restarted worker) with
        # tracebacks on stderr; what adiff cannot cope with becomes one error message.
        if self._log_levels is None:
            names = ["distributed"] + [n for n in logging.root.manager.loggerDict
                                       if n.startswith("distributed.")]
            self._log_levels = {n: logging.getLogger(n).level for n in names}
            for name in names:
                logging.getLogger(name).setLevel(logging.CRITICAL)

        if self.scheduler is None:
            import dask
            from dask.distributed import LocalCluster

            n = self.workers or _cores()
            with _HoldCtrlC():
                # Workers without Dask's MALLOC_TRIM_THRESHOLD_ (``reader.keep_freed_heap``)
                # and without its statistical profiler (a sample every 10 ms: ~10% of a
                # partition's CPU time here, for a dashboard this cluster does not have).
                with dask.config.set({"distributed.nanny.pre-spawn-environ."
                                      "MALLOC_TRIM_THRESHOLD_": None,
                                      "distributed.worker.profile.enabled": False}):
                    self.cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                                                processes=True, host="127.0.0.1",
                                                silence_logs=logging.CRITICAL, **LOCAL_QUIET)
            self.client = Client(self.cluster, set_as_default=False)
            return self.client
        try:
            client = Client(self.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = escape_controls(clip(str(exc) or type(exc).__name__, 200))
            raise InputError(f"--scheduler {escape_controls(self.scheduler)}: cannot reach the Dask "
                             f"scheduler ({reason})",
                             hint="is `dask scheduler` running there, and is the address the one "
                                  "it printed?") from None
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            client.close()
            raise InputError(f"--scheduler {escape_controls(self.scheduler)}: the scheduler has no "
                             f"workers (none joined within {CONNECT_TIMEOUT:g} s)",
                             hint=f"start some with: dask worker {self.scheduler}") from None
        self.client = client
        return client

    def close(self) -> None:
        """Stop the local cluster (or leave the --scheduler's), once."""
        client, cluster = self.client, self.cluster
        self.client = self.cluster = self._held = self._setup = None
        for thing in (client, cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 - closing must not turn a result into an error
                    pass
        if cluster is not None:
            # The worker processes' queues hold semaphores, unlinked when they are
            # collected (or at the interpreter's exit, which an interrupted adiff skips:
            # multiprocessing's resource tracker would then warn of "leaked" ones).
            import gc

            del client, cluster, thing
            gc.collect()
        if self._log_levels is not None:
            import logging

            for name, level in self._log_levels.items():
                logging.getLogger(name).setLevel(level)
            self._log_levels = None

    # ------------------------------------------------------------ a pass

    def covers(self, setup) -> bool:
        """Whether the passes over ``setup`` run here: those over the data file the engine
        was made for (not, say, a minibatch that ``fit`` holds in memory)."""
        return setup.data is self.data

    def parts(self, setup) -> list[Partition]:
        if self._parts is None:
            self._parts = partitions(setup.data)
        return self._parts

    def scan(self, setup, at: dict, opts, progress=None) -> list:
        """The partials of every partition (``batch.Partial``), in the order of the rows."""
        parts = self.parts(setup)
        client = self.start()
        held = self._hold(client, setup)
        from autodiff_cli import __version__

        data = setup.data
        single = len(data.files) == 1
        token = uuid.uuid4().hex[:12]
        futures = [client.submit(scan_part, held, __version__, dict(at), opts, part,
                                 data.chunk_rows, single, key=f"adiff-partition-{token}-{k}",
                                 pure=False)
                   for k, part in enumerate(parts)]
        try:
            partials = self._gather(futures, parts, setup, progress)
        except BaseException:
            client.cancel(futures)
            # The error's traceback keeps this frame: not the futures and the client, so that
            # ``close`` can free the cluster (Ctrl-C ends adiff without the exit handlers).
            del futures, client, held
            raise
        client.cancel(futures)
        if not sum(p.rows for p in partials):
            for _ in data.chunks(setup.columns):  # no rows: the reader's own error
                pass
            raise InputError(f"--data {data.shown!r}: the data has no rows",
                             hint="each row is one example")
        offset = 0
        for p in partials:  # rows numbered across the partitions, as in one process
            if p.examples:
                for e in p.examples:
                    e["first"] += offset
            offset += p.rows
        return partials

    def _hold(self, client, setup):
        """The future holding the formula on the workers: sent once, not with every task
        (a 100,000-node formula is megabytes); recomputed by Dask if its worker dies."""
        if self._setup is not setup:
            self._held = client.submit(_hold, setup, key=f"adiff-setup-{uuid.uuid4().hex[:12]}",
                                       pure=False)
            self._setup = setup
        return self._held

    def _gather(self, futures, parts, setup, progress) -> list:
        """The partials of the ``futures``, as they finish (the progress advances); the
        error of the earliest failed partition, the later ones cancelled."""
        data = setup.data
        index = {f.key: k for k, f in enumerate(futures)}
        partials: list = [None] * len(futures)
        try:
            return self._collect(futures, parts, data, progress, index, partials)
        except BaseException as exc:
            import traceback

            traceback.clear_frames(exc.__traceback__)  # they hold the futures (see ``scan``)
            del futures, index, partials
            raise

    def _collect(self, futures, parts, data, progress, index, partials) -> list:
        from dask.distributed import as_completed

        failed: tuple[int, BaseException] | None = None
        done_bytes = done_rows = 0
        for future in as_completed(futures, loop=self.client.loop):
            k = index[future.key]
            if failed is not None and k > failed[0]:
                continue  # cancelled here: an earlier partition failed
            status = future.status
            if status != "finished":
                if status == "error":
                    error = future.exception()
                else:  # cancelled or lost by the cluster itself
                    error = self._dropped(parts[k], status)
                failed = (k, error)
                for later in futures[k + 1:]:
                    later.cancel()
                continue
            partial = future.result()
            partials[k] = partial
            done_rows += partial.rows
            done_bytes += parts[k].size
            data.bytes_read = min(done_bytes, data.size or done_bytes)
            if progress:
                progress(done_rows)
        if failed is not None:
            raise _translated(failed[1], parts[failed[0]])
        data.bytes_read = data.size or done_bytes
        return partials

    def _dropped(self, part: Partition, status: str) -> InputError:
        """A partition the cluster cancelled or lost: the scheduler went away, or the
        cluster was restarted or shut down under the run."""
        if self.scheduler is not None and self.client.status != "running":
            return InputError(f"--scheduler {escape_controls(self.scheduler)}: the connection to "
                              "the Dask scheduler was lost in the middle of the run (partition "
                              f"{part.where()} was not finished)",
                              hint="is the scheduler still running? run again when it is")
        return InputError(f"the Dask cluster dropped partition {part.where()} ({status}) before "
                          "it finished", hint="was the cluster restarted or shut down? run again")


class _HoldCtrlC:
    """``with _HoldCtrlC():`` while a LocalCluster starts its worker processes.

    Ctrl-C in a terminal reaches the whole process group: the workers must leave it to
    this process, which stops them (else each prints a KeyboardInterrupt traceback).
    They are started, and restarted, from the cluster's own threads, made meanwhile,
    which keep this thread's signal mask: SIGINT blocked, as it then stays in the
    worker processes. (multiprocessing's resource tracker, when it starts, unblocks
    SIGINT in the thread that starts it: it is started first.)

    Another thread may still take the signal, so a Ctrl-C meanwhile is held back (in the
    main thread) and raised when the cluster is there, for ``close`` to stop it.
    """

    def __enter__(self):
        import signal

        self.held = []
        self.previous = None
        try:
            self.previous = signal.signal(signal.SIGINT, lambda *args: self.held.append(args))
        except (ValueError, OSError):  # not the main thread: Ctrl-C is not ours to handle
            pass
        self.old_mask = None
        if hasattr(signal, "pthread_sigmask"):
            from multiprocessing import resource_tracker

            resource_tracker.ensure_running()
            self.old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        return self

    def __exit__(self, *exc):
        import signal

        if self.old_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old_mask)
        previous = self.previous
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
            if self.held and exc[0] is None:
                if callable(previous):
                    previous(*self.held[0])  # adiff's handler: raises KeyboardInterrupt
                elif previous == signal.SIG_DFL:
                    os.kill(os.getpid(), signal.SIGINT)
        return False


def _translated(exc: BaseException, part: Partition) -> BaseException:
    """A partition's failure as the error this process would have raised."""
    from autodiff_cli.errors import AdiffError

    if isinstance(exc, AdiffError):
        return exc
    kind = type(exc).__name__
    text = escape_controls(clip(str(exc), 300))
    if kind == "KilledWorker":
        return InputError(f"the Dask workers running partition {part.where()} died every time "
                          f"(Dask gave up: {text})",
                          hint="a worker out of memory? try a smaller --chunk-size, or workers "
                               "with more memory")
    if isinstance(exc, ImportError) and "autodiff_cli" in str(exc):
        return InputError(f"a Dask worker cannot import adiff ({text})",
                          hint="install adiff, this version, on every worker")
    return exc


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
