"""Experiment sweeps (DESIGN §9): one function over a grid of configurations, in this process, on
a ``concurrent.futures`` executor or on a Dask cluster, with every finished row saved at once.

>>> def run(width, seed):
...     net = landscope.ShallowNet(X, y, width)
...     traj = landscope.train(net, net.init(seed), landscope.optim.GD(0.1), 100, progress=False)
...     return {"loss": traj.loss[-1], "distance": traj.distance[-1]}
>>> res = landscope.sweep(run, {"width": [64, 256, 1024], "seed": [0, 1]}, out="runs/width")
>>> res.to_pandas()            # one row per configuration

``client=`` moves the same call to a cluster (``distributed.Client(...)``) or an executor;
nothing else changes, and the rows are the same numbers (landscope's results depend on the
inputs only, bit for bit on any thread count: the engine sums over fixed sample blocks in a
fixed order).
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import inspect
import itertools
import json
import math
import numbers
import os
import pickle
import platform
import sys
import tempfile
import time
import traceback
from typing import Callable, Optional

import numpy as np

from . import _distributed
from . import _progress
from . import _validation as val
from ._equality import equal
from ._loader import core as _core

__all__ = ["sweep", "SweepResult"]

_FORMAT = "landscope.sweep"
_ROW_FORMAT = "landscope.sweep.row"
#: The configuration field that sets a task's thread count.
THREADS_FIELD = "n_threads"


# ----------------------------------------------------------------------------- configurations

def _configurations(grid) -> list:
    """The configurations of ``grid``: the Cartesian product of a dict of lists (in key order,
    the last key varying fastest), or a list of dicts as given."""
    if isinstance(grid, dict):
        names = list(grid)
        values = []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"grid: expected setting names as strings, got {name!r}")
            v = grid[name]
            if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__iter__"):
                raise TypeError(f"grid: {name!r} must be a list of values (a dict grid is the product of its "
                                f"lists; wrap a single value in a list), got {v!r}")
            values.append(list(v))
        return [dict(zip(names, combo)) for combo in itertools.product(*values)]
    if isinstance(grid, (list, tuple)):
        configs = []
        for i, c in enumerate(grid):
            if not isinstance(c, dict):
                raise TypeError(f"grid: a list grid holds one dict of settings per configuration; item {i} is "
                                f"{type(c).__name__}")
            for name in c:
                if not isinstance(name, str):
                    raise TypeError(f"grid: item {i} has the setting name {name!r}; expected strings")
            configs.append(dict(c))
        return configs
    raise TypeError(f"grid: expected a dict of lists (their product) or a list of dicts, got {type(grid).__name__}")


def _canonical(v, where: str):
    """A JSON-able form of a setting that is the same in every process and run."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return f if math.isfinite(f) else {"__float__": repr(f)}
    if isinstance(v, (list, tuple)):
        return [_canonical(x, where) for x in v]
    if isinstance(v, dict):
        return {"__dict__": sorted([str(k), _canonical(x, where)] for k, x in v.items())}
    if isinstance(v, np.ndarray):
        return {"__ndarray__": [str(v.dtype), list(v.shape),
                                hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()]}
    to_dict = getattr(v, "to_dict", None)
    if callable(to_dict) and not isinstance(v, type):
        return {"__" + type(v).__qualname__ + "__": _canonical(to_dict(), where)}
    try:
        data = pickle.dumps(v, protocol=4)
    except Exception as e:
        raise TypeError(f"grid: the setting {where} = {v!r} can be neither hashed nor pickled ({e})") from None
    return {"__pickle__": [type(v).__qualname__, hashlib.sha256(data).hexdigest()]}


def config_key(config: dict) -> str:
    """A stable name of a configuration (the same in every process, run and machine): the file
    name of its row under ``out``."""
    canon = {name: _canonical(v, repr(name)) for name, v in config.items()}
    text = json.dumps(canon, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def derived_seed(seed: int, key: str) -> int:
    """The seed of one configuration, from the sweep's ``seed`` and the configuration's key: the
    same on every worker, whatever the order of the runs."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # in [0, 2**63)


def _function_name(fn) -> str:
    target = getattr(fn, "func", fn)  # functools.partial: the function it calls
    module = getattr(target, "__module__", None) or "?"
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}"


def _function_identity(fn) -> str:
    """The function of a sweep as ``out``'s manifest records it: its qualified name, plus for a
    ``functools.partial`` a hash of its bound arguments, and for a lambda or a local function
    where it is defined (file and line). A changed function body is not detected."""
    name = _function_name(fn)
    target = getattr(fn, "func", fn)
    code = getattr(target, "__code__", None)
    if code is not None and "<" in name:
        name += f"@{os.path.basename(code.co_filename)}:{code.co_firstlineno}"
    if hasattr(fn, "func") and (getattr(fn, "args", None) or getattr(fn, "keywords", None)):
        try:
            bound = [_canonical(list(fn.args), "args"), _canonical(dict(fn.keywords or {}), "keywords")]
        except TypeError as e:
            raise TypeError(f"out: the arguments bound by the functools.partial {name} can be neither hashed "
                            f"nor pickled, so its rows cannot be told from another's ({e})") from None
        text = json.dumps(bound, sort_keys=True, separators=(",", ":"))
        name += f"[partial {hashlib.sha256(text.encode()).hexdigest()[:16]}]"
    return name


def _jsonable(config: dict) -> dict:
    out = {}
    for k, v in config.items():
        c = _canonical(v, repr(k))
        out[k] = c if not isinstance(v, (np.ndarray, dict)) and not isinstance(c, dict) else repr(v)
    return out


# --------------------------------------------------------------------------------- one row

def _error(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}


def _where() -> str:
    """The Dask worker's address, else the host name."""
    if "distributed" in sys.modules:
        from distributed import get_worker

        try:
            return get_worker().address
        except ValueError:
            pass
    return platform.node()


def _accepts(fn: Callable, name: str) -> bool:
    """Whether ``fn`` takes the keyword argument ``name`` (by name, or through ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read: pass it
        return True
    return any(p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.kind == p.VAR_KEYWORD
               for p in params)


def _run_row(fn: Callable, config: dict, seed: Optional[int], threads: Optional[int]) -> dict:
    """One configuration, where it runs: ``fn(**config)`` inside the task's thread budget (the
    ``n_threads`` setting, else ``threads``, else the Dask worker's), timed; an exception
    becomes the row's error (type, message and traceback as text, so it always travels back)."""
    kwargs = dict(config)
    if seed is not None:
        kwargs["seed"] = seed
    if THREADS_FIELD in kwargs and not _accepts(fn, THREADS_FIELD):
        del kwargs[THREADS_FIELD]  # a setting for the sweep, passed on only to a function that takes it
    budget = config.get(THREADS_FIELD)
    if budget is None:
        budget = threads if threads is not None else _distributed.worker_threads()
    start = time.perf_counter()
    where = _where()
    try:
        with _distributed.thread_budget(budget):
            value = fn(**kwargs)
        error = None
    except Exception as e:  # recorded for the row; KeyboardInterrupt and SystemExit stop the sweep
        value, error = None, _error(e)
    if error is None:  # a result that cannot travel (or be saved) is the row's error, with every runner
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            value, error = None, _error(TypeError(
                f"the result of {_function_name(fn)} cannot be pickled (to travel back from a worker or be "
                f"saved to out): {value!r:.200} ({type(e).__name__}: {e})"))
    return {"value": value, "error": error, "seconds": time.perf_counter() - start, "where": where,
            "version": _core.__version__}


# ------------------------------------------------------------------------------------ storage

class _Store:
    """``out``: ``manifest.json`` (the sweep's function and grid) and ``rows/<key>.pkl``, one pickle
    per finished configuration, each written to a temporary file and renamed (a reader never
    sees half a row; a killed run leaves whole rows only)."""

    def __init__(self, out, fn_name: str, configs: list, keys: list):
        try:
            self.folder = os.fspath(out)
        except TypeError:
            raise TypeError(f"out: expected a folder path (str or os.PathLike), got {type(out).__name__}") from None
        self.rows = os.path.join(self.folder, "rows")
        try:
            os.makedirs(self.rows, exist_ok=True)
        except OSError as e:
            raise ValueError(f"out: cannot create the folder {self.folder!r} ({e.strerror})") from None
        manifest = os.path.join(self.folder, "manifest.json")
        if os.path.exists(manifest):
            try:
                with open(manifest, encoding="utf-8") as fh:
                    old = json.load(fh)
            except (OSError, ValueError) as e:
                raise ValueError(f"out: {manifest!r} is not a landscope sweep manifest ({e})") from None
            if not isinstance(old, dict) or old.get("format") != _FORMAT:
                raise ValueError(f"out: {self.folder!r} holds something other than a landscope sweep")
            if old.get("function") != fn_name:
                raise ValueError(f"out: {self.folder!r} holds another function's rows (a sweep of "
                                 f"{old.get('function')!r}, not {fn_name!r}); choose another folder or remove it")
        self._write_json(manifest, {"format": _FORMAT, "version": 1, "landscope": _core.__version__,
                                    "function": fn_name, "configurations": len(configs),
                                    "grid": [{"key": k, "config": _jsonable(c)} for k, c in zip(keys, configs)]})

    def _write_json(self, path: str, data) -> None:
        self._atomic(path, json.dumps(data, indent=1, allow_nan=True).encode())

    def _atomic(self, path: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def path(self, key: str) -> str:
        return os.path.join(self.rows, f"{key}.pkl")

    def load(self, key: str) -> Optional[dict]:
        """The saved row of ``key``, or None (none, or not readable)."""
        try:
            with open(self.path(key), "rb") as fh:
                row = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception:  # a row this landscope cannot read is computed again
            return None
        return row if isinstance(row, dict) and row.get("format") == _ROW_FORMAT else None

    def save(self, key: str, row: dict) -> None:
        self._atomic(self.path(key), pickle.dumps(dict(row, format=_ROW_FORMAT), protocol=pickle.HIGHEST_PROTOCOL))


# ------------------------------------------------------------------------------------- result

class SweepResult:
    """The rows of a :func:`sweep`, in the order of the grid.

    - ``configs``: the configurations (dicts of settings);
    - ``values``: what the function returned for each (a dict of numbers and arrays, or a
      landscope result), None where it failed;
    - ``errors``: None, or a dict ``type``, ``message``, ``traceback`` for a configuration that
      raised on every attempt;
    - ``seeds``: each configuration's seed (its ``seed`` setting, or the seed the sweep derived
      for it with ``seed=``; None without either);
    - ``keys``: each configuration's stable name (its file under ``out``);
    - ``attempts``, ``seconds``, ``where``: runs it took (0 when loaded from ``out``), the
      seconds of the last run and where it ran (a worker's address or a host name);
    - ``version`` (the landscope that returned the result) and ``versions`` (the landscope
      that computed each row).

    ``to_pandas()`` (one row per configuration: settings, seed, the function's numbers, error) and
    ``to_xarray()`` (a dict grid as dimensions) need pandas and xarray. Two results are ``==``
    when their configurations, values, errors (type and message), seeds and versions are equal.
    """

    def __init__(self, configs, values, errors, seeds, keys, attempts, seconds, where, versions, grid=None):
        self.configs, self.values, self.errors, self.seeds = configs, values, errors, seeds
        self.keys, self.attempts, self.seconds, self.where, self.versions = keys, attempts, seconds, where, versions
        self.grid = grid
        self.version = _core.__version__

    def __len__(self) -> int:
        return len(self.configs)

    @property
    def ok(self) -> bool:
        """True when every configuration finished without an error."""
        return all(e is None for e in self.errors)

    @property
    def failed(self) -> list:
        """The indices of the configurations that failed."""
        return [i for i, e in enumerate(self.errors) if e is not None]

    def row(self, i: int) -> dict:
        """Configuration ``i`` as one flat dict: its settings, ``seed``, the function's values (a
        returned dict's items, or ``result``) and ``error`` (``"Type: message"`` or None)."""
        out = dict(self.configs[i])
        if self.seeds[i] is not None:
            out.setdefault("seed", self.seeds[i])
        v = self.values[i]
        if isinstance(v, dict):
            for k, x in v.items():
                out[k if k not in self.configs[i] else f"result_{k}"] = x
        elif v is not None:
            out["result"] = v
        e = self.errors[i]
        out["error"] = None if e is None else f"{e['type']}: {e['message']}"
        return out

    def __getitem__(self, i: int) -> dict:
        return self.row(i)

    def __iter__(self):
        return (self.row(i) for i in range(len(self)))

    def to_pandas(self):
        """A pandas DataFrame, one row per configuration (see :meth:`row`); needs pandas."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError('SweepResult.to_pandas needs pandas: pip install "landscope[pandas]"') from e
        rows = [self.row(i) for i in range(len(self))]
        columns = []
        for r in rows:
            columns += [k for k in r if k not in columns and k != "error"]
        return pd.DataFrame(rows, columns=columns + ["error"])

    def to_xarray(self):
        """An xarray Dataset: for a dict grid, its settings are the dimensions (with their values
        as coordinates); for a list grid, one dimension ``config``. Number-valued results become
        variables (NaN where a configuration failed); array results of one shape add dimensions
        ``<name>_dim_<i>``. Needs xarray."""
        try:
            import xarray as xr
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError('SweepResult.to_xarray needs xarray: pip install "landscope[landscape]"') from e
        names = {}
        for v in self.values:
            if isinstance(v, dict):
                for k, x in v.items():
                    names.setdefault(k, x)
        if isinstance(self.grid, dict) and all(len(v) for v in self.grid.values()):
            dims = tuple(self.grid)
            shape = tuple(len(self.grid[d]) for d in dims)
            coords = {d: _coordinate(self.grid[d]) for d in dims}
        else:
            dims, shape = ("config",), (len(self),)
            coords = {"config": np.arange(len(self))}
        data = {}
        for name, example in names.items():
            arr = np.asarray(example)
            if arr.dtype.kind not in "biuf":
                continue
            cells = [np.asarray(v[name]) if isinstance(v, dict) and name in v else None for v in self.values]
            if any(c is not None and (c.shape != arr.shape or c.dtype.kind not in "biuf") for c in cells):
                continue  # arrays of different shapes: not one variable
            missing = any(c is None for c in cells)
            dtype = float if missing else np.result_type(*[c.dtype for c in cells])
            block = np.full((len(self),) + arr.shape, np.nan) if missing else np.empty((len(self),) + arr.shape, dtype)
            for i, c in enumerate(cells):
                if c is not None:
                    block[i] = c
            extra = tuple(f"{name}_dim_{j}" for j in range(arr.ndim))
            data[name] = (dims + extra, block.reshape(shape + arr.shape))
        ds = xr.Dataset(data, coords=coords, attrs={"landscope": self.version})
        if dims == ("config",):
            for k in {k for c in self.configs for k in c}:
                col = [c.get(k) for c in self.configs]
                if all(isinstance(x, (numbers.Number, str)) for x in col):
                    ds = ds.assign_coords({k: ("config", col)})
        return ds

    def __eq__(self, other) -> bool:
        if not isinstance(other, SweepResult):
            return NotImplemented
        strip = (lambda es: [None if e is None else (e["type"], e["message"]) for e in es])
        return (len(self) == len(other) and equal(self.configs, other.configs) and equal(self.values, other.values)
                and strip(self.errors) == strip(other.errors) and self.seeds == other.seeds
                and self.versions == other.versions)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        bad = len(self.failed)
        return f"SweepResult({len(self)} configurations, {len(self) - bad} done, {bad} failed, landscope {self.version})"


def _coordinate(values: list):
    """Grid values as a coordinate: themselves when numbers or strings, else their positions."""
    if all(isinstance(v, (numbers.Number, str)) for v in values):
        return values
    return np.arange(len(values))


# -------------------------------------------------------------------------------------- sweep

def sweep(fn: Callable, grid, *, client=None, out=None, retries: int = 1, progress=True,
          seed: Optional[int] = None) -> SweepResult:
    """Runs ``fn(**config)`` for every configuration of ``grid`` and returns the rows.

    Parameters
    ----------
    fn : a function of one configuration's settings as keyword arguments, returning a dict of
        numbers and arrays (or any picklable result, e.g. a Trajectory). On a cluster or in a
        process pool it travels by pickle: a module-level function (or a ``functools.partial``
        of one) always does; Dask also sends closures and lambdas.
    grid : a dict of lists (every combination, the last setting varying fastest), or a list of
        dicts (one configuration each). Settings are numbers, strings, None, lists, arrays or
        picklable objects; two equal configurations are a ValueError.
    client : None (here, one configuration after the other), a ``dask.distributed.Client``, a
        scheduler address (``"tcp://host:8786"``), or any ``concurrent.futures.Executor``.
    out : a folder: each finished configuration is written there at once (atomically, one file
        each), and a later call with the same function skips the configurations already done
        (rows that failed are run again, and so are rows computed with another ``seed=``). The
        function is recognised by its qualified name (with a ``functools.partial``'s bound
        arguments, and a lambda's place of definition): a folder of another function's rows is
        an error, but a changed function body is not detected (use a new folder). Interrupting (Ctrl-C, a killed job) loses only the
        configurations running at the time.
    retries : how many times a configuration that raised is run again (0: not). It is then
        recorded with its error (type, message, traceback) and the others go on.
    progress : a progress bar of configurations done on stderr (False: none).
    seed : derive a seed for each configuration from this number and the configuration (the same
        on every worker, in any order) and pass it to ``fn`` as ``seed=``; a configuration with its
        own ``seed`` setting keeps it. None (default): no seed is added.

    Threads: inside a task landscope computes on the thread budget of where it runs: the
    configuration's ``n_threads`` setting if it has one; else, on a Dask worker, the worker's
    thread count (tasks of one worker that use several threads take turns, see
    :mod:`landscope._distributed`); else, in an executor, the processors divided by its
    ``max_workers``; in this process, the current ``landscope.get_num_threads()``.

    A worker that dies mid-task is replaced and the task run elsewhere by Dask's scheduler; a
    task that still cannot finish (Dask's ``KilledWorker``, a broken process pool) counts as
    a failed attempt.

    Returns
    -------
    SweepResult
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function of one configuration's settings, got {type(fn).__name__}")
    retries = val.integer("retries", retries, 0)
    show = _progress.enabled(progress)
    if seed is not None:
        seed = val.integer("seed", seed, 0, val.MAX_SEED)
        if not _accepts(fn, "seed"):
            raise TypeError(f"seed: {_function_name(fn)} takes no seed argument to pass the derived seeds to")
    if isinstance(grid, dict):  # lists once (a generator or range is read here, and only here)
        listed = {}
        for k, v in grid.items():
            if hasattr(v, "__iter__") and not isinstance(v, (str, bytes, dict)):
                try:
                    v = list(v)
                except TypeError as e:  # e.g. a 0-d array
                    raise TypeError(f"grid: {k!r} must be a list of values (wrap a single value in a list), "
                                    f"got {v!r} ({e})") from None
            listed[k] = v
        grid = listed
    configs = _configurations(grid)
    if not configs or (isinstance(grid, dict) and not grid):
        raise ValueError(f"grid has no configurations (got {grid!r}: an empty list of settings, or no settings)")
    for i, c in enumerate(configs):
        t = c.get(THREADS_FIELD)
        if t is None:
            continue
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Integral):
            raise TypeError(f"grid: {THREADS_FIELD} must be an integer thread count >= 1 (or None), got {t!r} "
                            f"in configuration {i}")
        if t < 1:
            raise ValueError(f"grid: {THREADS_FIELD} must be a thread count >= 1 (or None), got {t!r} in "
                             f"configuration {i}")
    keys = [config_key(c) for c in configs]
    seen = {}
    for i, k in enumerate(keys):
        if k in seen:
            raise ValueError(f"grid: configurations {seen[k]} and {i} are the same ({configs[i]!r})")
        seen[k] = i
    seeds = [c["seed"] if "seed" in c else (derived_seed(seed, k) if seed is not None else None)
             for c, k in zip(configs, keys)]
    passed = [None if ("seed" in c or seed is None) else s for c, s in zip(configs, seeds)]
    n = len(configs)
    rows: list = [None] * n
    attempts = [0] * n
    store = _Store(out, _function_identity(fn), configs, keys) if out is not None else None
    if store is not None:
        for i, k in enumerate(keys):
            saved = store.load(k)
            # a row computed with another derived seed (another seed=) is computed again, not reused
            if saved is not None and saved.get("error") is None and saved.get("seed") == passed[i]:
                rows[i] = saved
    todo = [i for i in range(n) if rows[i] is None]
    bar = _progress.bar("sweep", n, progress=show, unit="configs", initial=n - len(todo))
    failed = 0

    def finish(i: int, row: dict) -> None:
        nonlocal failed
        rows[i] = row = dict(row, seed=passed[i])  # the seed passed to fn (None: none, or the config's own)
        if store is not None:
            try:
                store.save(keys[i], row)
            except (pickle.PicklingError, TypeError, AttributeError) as e:  # an unpicklable value
                rows[i] = dict(row, value=None, error=_error(TypeError(f"the result cannot be saved to out: {e}")))
                store.save(keys[i], rows[i])
        if rows[i]["error"] is not None:
            failed += 1
            bar.set_postfix_str(f"{failed} failed", refresh=False)
        bar.update(1)

    try:
        with _distributed.resolve(client) as runner:
            if runner.kind == "serial":
                for i in todo:
                    while True:
                        attempts[i] += 1
                        row = _run_row(fn, configs[i], passed[i], None)
                        if row["error"] is None or attempts[i] > retries:
                            break
                    finish(i, row)
            else:
                _run_remote(runner, fn, configs, passed, todo, attempts, retries, finish)
    finally:
        bar.close()
    return SweepResult(configs=configs, values=[r["value"] for r in rows], errors=[r["error"] for r in rows],
                       seeds=seeds, keys=keys, attempts=attempts, seconds=[r["seconds"] for r in rows],
                       where=[r.get("where") for r in rows], versions=[r.get("version") for r in rows],
                       grid={k: list(v) for k, v in grid.items()} if isinstance(grid, dict) else None)


def _run_remote(runner, fn, configs, passed, todo, attempts, retries, finish) -> None:
    """The configurations ``todo`` on an executor or a Dask client, each finished row handed to
    ``finish`` as it arrives; a failed attempt (an error in ``fn``, or the task lost) is
    submitted again while attempts remain."""
    if runner.kind == "dask":
        distributed = _distributed.import_distributed()
        client = runner.client
        tag = os.urandom(4).hex()

        def submit(i):
            attempts[i] += 1
            key = f"landscope-sweep-{tag}-{i}-{attempts[i]}"
            return client.submit(_run_row, fn, configs[i], passed[i], None, key=key, pure=False)

        futures = {submit(i): i for i in todo}
        completed = _DaskCompleted(distributed.as_completed(list(futures)))
    else:
        ex = runner.client
        threads = _distributed.executor_threads(ex)

        def submit(i):
            attempts[i] += 1
            return ex.submit(_run_row, fn, configs[i], passed[i], threads)

        futures = {}
        for i in todo:
            try:
                futures[submit(i)] = i
            except Exception as e:  # e.g. a broken process pool
                finish(i, _lost(e))
        completed = _Completed(futures)
    try:
        for fut, row in completed:
            i = futures.pop(fut)
            if isinstance(row, BaseException):  # the task itself was lost: a dead worker, a broken pool
                row = _lost(row)
            if row["error"] is not None and attempts[i] <= retries:
                try:
                    again = submit(i)
                except Exception as e:
                    finish(i, _lost(e))
                    continue
                futures[again] = i
                completed.add(again)
                continue
            finish(i, row)
    finally:
        for fut in futures:
            fut.cancel()


def _lost(exc: BaseException) -> dict:
    return {"value": None, "error": _error(exc), "seconds": math.nan, "where": None, "version": _core.__version__}


class _Completed:
    """``concurrent.futures.as_completed`` that takes more futures while it runs and yields their
    results (like Dask's ``as_completed(with_results=True, raise_errors=False)``)."""

    def __init__(self, futures):
        self._pending = set(futures)

    def add(self, fut) -> None:
        self._pending.add(fut)

    def __iter__(self):
        """(future, its result or its exception) as futures finish."""
        while self._pending:
            done, _ = concurrent.futures.wait(self._pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in done:
                self._pending.discard(fut)
                try:
                    yield fut, fut.result()
                except Exception as e:
                    yield fut, e


class _DaskCompleted:
    """Dask's ``as_completed`` yielding (future, its result or its exception): the result is
    fetched here, so a result that cannot be fetched is that row's failed attempt, never a
    future that is not yielded (``with_results=True`` drops a future whose fetch fails)."""

    def __init__(self, completed):
        self._completed = completed

    def add(self, fut) -> None:
        self._completed.add(fut)

    def __iter__(self):
        for fut in self._completed:
            try:
                yield fut, fut.result()
            except Exception as e:
                yield fut, e
