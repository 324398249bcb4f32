"""Run `playlist-assets` with the time it spends in Dagster's event log storage counted.

    .venv/bin/python benchmarks/event_log_timing.py OUT.json materialize --source demo ...

`benchmarks/event_log.py` starts the command this way. Every public method of Dagster's
`SqliteEventLogStorage`, and of any subclass of it (the project's batched storage is one), is
timed from its outermost call: a method the storage calls on itself counts in its caller's
time, not twice. At exit OUT.json holds, per method, the calls and seconds; the events handed
to `store_event`/`store_event_batch`; how many database connections the storage opened; and
which storage class the instance really used. The timers are installed when Dagster's module
is first imported, so the command starts exactly as it does without them; they cost a few
microseconds a call.
"""

from __future__ import annotations

import atexit
import functools
import importlib.abc
import importlib.util
import inspect
import json
import sys
import threading
import time
from collections import defaultdict

STORAGE_MODULE = "dagster._core.storage.event_log.sqlite.sqlite_event_log"
STORAGE_CLASS = "SqliteEventLogStorage"
# Not timed: set up once, or not a call on the stored events.
SKIPPED = {"from_config_value", "config_type", "inst_data", "dispose"}

_lock = threading.Lock()
_local = threading.local()
_calls: dict[str, list] = defaultdict(lambda: [0, 0.0])  # method -> [calls, seconds]
_figures = {"events_stored": 0, "connections": 0, "storage_classes": set()}


def _timed(name: str, function):
    @functools.wraps(function, updated=())
    def timed(self, *args, **kwargs):
        if getattr(_local, "inside", False):
            return function(self, *args, **kwargs)
        _local.inside = True
        started = time.perf_counter()
        try:
            return function(self, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            _local.inside = False
            with _lock:
                entry = _calls[name]
                entry[0] += 1
                entry[1] += elapsed
                _figures["storage_classes"].add(f"{type(self).__module__}.{type(self).__qualname__}")
                if name == "store_event":
                    _figures["events_stored"] += 1
                elif name == "store_event_batch":
                    _figures["events_stored"] += len(args[0] if args else kwargs["events"])

    return timed


def _counted_connections(function):
    @functools.wraps(function, updated=())
    def connect(self, *args, **kwargs):
        with _lock:
            _figures["connections"] += 1
        return function(self, *args, **kwargs)

    return connect


def _wrap(cls, names) -> None:
    for name in names:
        value = inspect.getattr_static(cls, name)
        if inspect.isfunction(value):
            setattr(cls, name, _counted_connections(value) if name == "_connect" else _timed(name, value))


def _public_functions(namespace: dict) -> list[str]:
    return [
        name for name, value in namespace.items()
        if inspect.isfunction(value) and (name == "_connect" or not name.startswith("_")) and name not in SKIPPED
    ]


def _instrument(storage_class) -> None:
    # The stock class with everything it inherits; a subclass defined later (the batched
    # storage) gets its own methods wrapped as it is defined.
    names = {name for klass in storage_class.__mro__ if klass is not object for name in _public_functions(vars(klass))}
    _wrap(storage_class, names)

    def init_subclass(subclass, **kwargs):
        super(storage_class, subclass).__init_subclass__(**kwargs)
        _wrap(subclass, _public_functions(vars(subclass)))

    storage_class.__init_subclass__ = classmethod(init_subclass)


class _InstrumentOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != STORAGE_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _instrument(getattr(module, STORAGE_CLASS))

        spec.loader.exec_module = exec_module
        return spec


def _write(path: str) -> None:
    calls = {name: {"calls": n, "seconds": round(s, 4)} for name, (n, s) in sorted(_calls.items())}
    with open(path, "w", encoding="utf-8") as out:
        json.dump({
            "calls": calls,
            "events_stored": _figures["events_stored"],
            "connections": _figures["connections"],
            "storage_classes": sorted(_figures["storage_classes"]),
        }, out, indent=2)


def main() -> None:
    out, *argv = sys.argv[1:]
    sys.meta_path.insert(0, _InstrumentOnImport())
    atexit.register(_write, out)
    from playlist_assets.runtime.cli import main as cli

    sys.exit(cli(argv))


if __name__ == "__main__":  # not in the worker processes, which import this file as __mp_main__
    main()
