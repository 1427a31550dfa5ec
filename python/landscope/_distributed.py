"""Work beyond one process (DESIGN §9): Dask ``distributed`` clients, ``concurrent.futures``
executors, and the thread budget of a task.

Nothing here imports Dask until a Dask client (or a scheduler address) is handed in: ``import
landscope`` never does.

Thread budget: landscope's thread count is one setting per process (``set_num_threads``), and
a Dask worker started with ``--nthreads T`` is meant to use T cores, not every core of a shared
node. A task on a worker therefore runs with T threads, and tasks of one worker process that
would use more than one thread take turns (one runs, the others wait), so T threads are never
multiplied by T concurrent tasks. With one thread per task (``--nthreads 1`` workers, or
``n_threads=1``), tasks of a process run side by side. The count is restored after the task.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
import threading
from typing import Callable, Iterator, Optional, Sequence

__all__ = ["INSTALL", "import_distributed", "resolve", "worker_threads", "thread_budget", "map_blocks",
           "executor_threads", "dask_client", "WORKER_ENVIRON", "worker_environment"]

INSTALL = 'pip install "landscope[dask]"'


def import_distributed():
    """The ``distributed`` module, or ImportError saying how to install it."""
    try:
        import distributed
    except ImportError as e:
        raise ImportError(f"Dask is an optional extra of landscope, not installed here: {INSTALL} "
                          f"(installs dask.distributed)") from e
    return distributed


def is_dask(client) -> bool:
    module = type(client).__module__ or ""
    return module == "distributed" or module.startswith("distributed.")


class Runner:
    """Where work runs: ``kind`` is "serial", "executor" or "dask"; ``close()`` ends a client this
    module made from an address (a client handed in stays open)."""

    def __init__(self, kind: str, client=None, owned: bool = False):
        self.kind, self.client, self.owned = kind, client, owned

    def close(self) -> None:
        if self.owned and self.client is not None:
            self.client.close()
            self.owned = False

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def resolve(client) -> Runner:
    """``client=`` of :func:`landscope.sweep`, ``surface`` and ``interpolate``: None (in this
    process), a ``dask.distributed.Client``, a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (a client is connected for the call), or any
    ``concurrent.futures.Executor``."""
    if client is None:
        return Runner("serial")
    if isinstance(client, str):
        distributed = import_distributed()
        return Runner("dask", distributed.Client(client), owned=True)
    if is_dask(client):
        if not hasattr(client, "submit") or not hasattr(client, "scatter"):
            raise TypeError(f"client: expected a dask.distributed.Client, got {type(client).__name__}")
        return Runner("dask", client)
    if isinstance(client, concurrent.futures.Executor):
        return Runner("executor", client)
    raise TypeError("client: expected None, a dask.distributed.Client, a scheduler address (str) or a "
                    f"concurrent.futures.Executor, got {type(client).__name__}")


# ------------------------------------------------------------------------------ thread budget

def worker_threads() -> Optional[int]:
    """The thread count of the Dask worker running this code, or None outside a worker."""
    if "distributed" not in sys.modules:  # no Dask in this process: not a worker
        return None
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return None
    state = getattr(worker, "state", None)
    n = getattr(state, "nthreads", None) or getattr(worker, "nthreads", None)
    return int(n) if n else None


def executor_threads(executor) -> Optional[int]:
    """The thread budget of a task of a concurrent.futures executor: the processors shared by
    its workers (``max_workers``), at least 1; None when the executor does not say, or when the
    caller runs inside a budget itself (a task that uses an executor: its tasks then compute
    on the caller's thread count, rather than wait for the caller's budget to end)."""
    if threading.get_ident() in _holders:
        return None
    workers = getattr(executor, "_max_workers", None)
    if not workers:
        return None
    return max(1, (os.cpu_count() or 1) // int(workers))


_cond = threading.Condition()
_active = 0             # tasks inside a budget in this process
_value: Optional[int] = None
_exclusive = False
_saved: Optional[int] = None  # the count to restore (None: the OpenMP default mode)
_holders: set = set()   # ids of the threads inside a budget


@contextlib.contextmanager
def thread_budget(n: Optional[int]) -> Iterator[None]:
    """Runs the block with landscope's thread count at ``n`` (None: as it is). A count above 1
    is exclusive in this process: other tasks with a budget wait for it, and it waits for them.
    Tasks of one thread share the process. Nested budgets in one thread just change the count."""
    global _active, _value, _exclusive, _saved
    if n is None:
        yield
        return
    import landscope  # _fixed_threads: the count set_num_threads fixed, or None (the default mode)
    from . import set_num_threads

    n = int(n)
    me = threading.get_ident()
    if me in _holders:  # nested in this thread: no waiting on ourselves
        before = landscope._fixed_threads
        set_num_threads(n)
        try:
            yield
        finally:
            set_num_threads(before)
        return
    exclusive = n > 1
    with _cond:
        while _active and (exclusive or _exclusive or _value != n):
            _cond.wait()
        if _active == 0:
            _saved = landscope._fixed_threads
            set_num_threads(n)
            _value, _exclusive = n, exclusive
        _active += 1
        _holders.add(me)
    try:
        yield
    finally:
        with _cond:
            _active -= 1
            _holders.discard(me)
            if _active == 0:
                set_num_threads(_saved)
                _value, _exclusive, _saved = None, False, None
            _cond.notify_all()


# ------------------------------------------------------------------------------ blocks of work

def _run_block(fn: Callable, threads: Optional[int], nshared: int, *args):
    """Where the block runs: ``fn(*shared, *constants, item)`` for each item of the block
    (``args`` = the shared objects, then the constants as a tuple, then the items)."""
    shared, constants, items = args[:nshared], args[nshared], args[nshared + 1]
    with thread_budget(threads if threads is not None else worker_threads()):
        return [fn(*shared, *constants, item) for item in items]


def _split(items: Sequence, parts: int) -> list:
    """``items`` in at most ``parts`` runs of consecutive items, of nearly equal lengths."""
    parts = max(1, min(parts, len(items)))
    bounds = [len(items) * i // parts for i in range(parts + 1)]
    return [list(items[bounds[i]:bounds[i + 1]]) for i in range(parts) if bounds[i + 1] > bounds[i]]


def _slots(runner: Runner) -> int:
    """How many tasks the runner runs at once (Dask: its workers' threads)."""
    if runner.kind == "dask":
        try:
            return max(1, sum(runner.client.nthreads().values()))
        except Exception:  # pragma: no cover - a client that cannot say
            return 1
    return max(1, int(getattr(runner.client, "_max_workers", 1) or 1))


def map_blocks(runner: Runner, fn: Callable, shared: tuple, constants: tuple, items: Sequence, *,
               per_slot: int = 4) -> Iterator:
    """``fn(*shared, *constants, item)`` for every item, in blocks of consecutive items (about
    ``per_slot`` blocks per task slot, so the work spreads and finished blocks arrive often).
    Yields ``(block, results)`` as blocks finish: ``block`` the list of its items, ``results``
    theirs. In this process (``runner.kind == "serial"``) each item is a block.

    On Dask the ``shared`` objects (a model, w, directions: the large ones) are sent once to
    every worker (``scatter(broadcast=True)``) and tasks refer to them; ``constants`` (small)
    travel with each task. A worker that dies is replaced by the scheduler, which runs its
    blocks again elsewhere. An error in a block cancels the blocks not started and is raised
    here."""
    if runner.kind == "serial":
        for item in items:
            yield [item], [fn(*shared, *constants, item)]
        return
    blocks = _split(items, per_slot * _slots(runner))
    if runner.kind == "dask":
        client = runner.client
        distributed = import_distributed()
        remote = tuple(client.scatter(obj, broadcast=True, hash=False) for obj in shared)
        futures = {client.submit(_run_block, fn, None, len(remote), *remote, constants, block, pure=False): block
                   for block in blocks}
        completed = distributed.as_completed(list(futures), with_results=True)
    else:
        ex = runner.client
        threads = executor_threads(ex)
        futures = {ex.submit(_run_block, fn, threads, len(shared), *shared, constants, block): block
                   for block in blocks}
        completed = ((fut, fut.result()) for fut in concurrent.futures.as_completed(list(futures)))
    try:
        for fut, results in completed:
            if isinstance(results, BaseException):  # Dask yields a cancelled block's error
                raise RuntimeError(f"{getattr(fn, '__name__', 'a task')}: a block was cancelled on the cluster "
                                   f"({type(results).__name__}); its workers may have died and taken the "
                                   f"scattered inputs with them") from results
            yield futures[fut], results
    finally:
        for fut in futures:
            if not fut.done():
                fut.cancel()


#: Environment for Dask worker processes running landscope. Dask's nanny starts workers with
#: MALLOC_TRIM_THRESHOLD_=65536, which switches off glibc's adaptive mmap threshold: every array
#: above 128 kB is then mapped and unmapped afresh, page faults and all, and tasks that make
#: MB-sized temporaries (a width-16384 ShallowNet's passes) ran 1.6x slower than in a plain
#: process. A fixed 32 MB threshold restores the in-process speed and keeps Dask's trimming.
WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": 32 * 1024 * 1024}


@contextlib.contextmanager
def worker_environment() -> Iterator[None]:
    """Dask worker processes started inside the block (by a LocalCluster here, or restarted by
    their nanny while it lasts) get :data:`WORKER_ENVIRON`, as Dask's
    ``distributed.nanny.pre-spawn-environ`` setting."""
    import dask

    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}):
        yield


#: How long the CLI tries to reach a --scheduler before giving up (a Dask duration).
CONNECT_TIMEOUT = "15s"


@contextlib.contextmanager
def dask_client(scheduler: Optional[str] = None, workers: Optional[int] = None) -> Iterator:
    """A Dask client for the CLI: connected to ``scheduler``, or to a new LocalCluster of
    ``workers`` processes (the processors shared among them, :data:`WORKER_ENVIRON` set), closed
    at the end; None when neither is given."""
    if scheduler is None and workers is None:
        yield None
        return
    distributed = import_distributed()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:  # unreachable, refused, or not a scheduler address
            raise ValueError(f"--scheduler: cannot connect to {scheduler!r}: {e}") from None
        with client:
            yield client
        return
    per_worker = max(1, (os.cpu_count() or 1) // workers)
    with worker_environment(), distributed.LocalCluster(n_workers=workers, threads_per_worker=per_worker,
                                                        processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client
