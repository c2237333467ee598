"""How every long-running occuloop process stops: the one signal path (SIGTERM/SIGINT), stack dumps on SIGUSR1,
and a bound on how long a shutdown may take.

`run_until_signalled(name, work, bound_seconds=...)` runs `work(stop)` on a worker thread; the main thread does
nothing but wait for a signal or for the work to return. On SIGTERM or SIGINT it logs `event=<name>_stopping`,
sets `stop`, and arms the overrun guard: if the process has not exited `bound_seconds` later, it logs
`event=<name>_shutdown_overran`, dumps every thread's stack to stderr (so `kubectl logs` shows where it hangs)
and exits 1 — before the pod's grace period, never silently.

Why the work is not on the main thread, and why the signal handler only writes one byte to a pipe: CPython runs
a Python signal handler on the main thread between two bytecodes, wherever that thread is. A handler that takes
a lock deadlocks when the interrupted code holds the same lock — `threading.Event.set()` in the handler
deadlocks against the main thread's own `stop.wait(...)` (an `Event`'s lock is not re-entrant and is held for a
few bytecodes around each wait): that is how `occuloop sync` hung after `event=sync_stopping` until it was
killed. And a handler that runs the ClearML SDK's exit hooks (installed by `Task.init` on the main thread: they
run the whole task shutdown inside the handler, in the middle of whatever the SDK was doing, e.g. creating that
very task) is how `occuloop trigger` hung. With the work on a worker thread, a signal interrupts only the main
thread's wait, and `Task.init` called from the worker cannot install its signal hooks (Python allows
`signal.signal` only on the main thread; the SDK skips them when refused), so occuloop's handler stays the only
one.

The embedded server, the sync, the trigger, the rollout controller and the training-pod recorder run through
`run_until_signalled` (directly or via `http_base.serve_until_signalled`); the work of the last four is a
`polling.Loop`. A process whose framework owns the signals (uvicorn: the
serving app, the UI) calls `enable_stack_dumps()` at start and `arm_overrun_guard(name, bound)` when its
shutdown begins (e.g. in its lifespan's shutdown), and gets the same diagnostics and the same bound.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
DUMP_SIGNAL = signal.SIGUSR1
OVERRUN_EXIT_CODE = 1
_WORK_DONE = 0  # the byte the worker writes when `work` returns (signal numbers are never 0)
_C_BACKSTOP_SECONDS = 5.0  # after the Python guard: faulthandler's C thread needs no GIL, in case a thread holds it

_guard_lock = threading.Lock()
_guard_armed = False
_deferred: list[int] = []  # stop signals received before `run_until_signalled` took over


def _defer(number: int, _frame: object) -> None:
    _deferred.append(number)  # no lock, no I/O: safe wherever the main thread was interrupted


def _exit_now(_number: int, _frame: object) -> None:
    raise SystemExit(0)


def exit_on_stop_signals() -> None:
    """While a long-running command is still importing its modules (seconds on a busy node), SIGTERM/SIGINT exit 0
    at once: nothing is held yet, and finishing the imports first would only delay the stop."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _exit_now)


def defer_stop_signals() -> None:
    """From the moment a long-running command starts opening what it holds (the store, the journal, the inbox
    lock) until `run_until_signalled` handles them, SIGTERM/SIGINT are held and then stop the work at once: the
    default action would kill it with exit -15, and exiting in the middle of opening is not a clean stop."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _defer)


def stop_requested_early() -> bool:
    """A SIGTERM/SIGINT arrived while a command was starting (held by `defer_stop_signals`): a command whose
    framework installs its own handlers (uvicorn) checks this first, and exits 0 instead of starting."""
    return bool(_deferred)


def replay_early_stop() -> None:
    """Raise a stop held during start-up again, to the handlers now in place. A framework that installs its own
    (uvicorn) calls this once they are (the app's lifespan startup): a SIGTERM that arrived after the command's
    `stop_requested_early()` check but before uvicorn took the signals would otherwise be held and never acted on."""
    if _deferred:
        signal.raise_signal(_deferred.pop(0))


def enable_stack_dumps() -> None:
    """`kill -USR1 <pid>` writes every thread's stack to stderr, and the process goes on."""
    faulthandler.register(DUMP_SIGNAL, file=sys.stderr, all_threads=True, chain=False)


def dump_stacks() -> None:
    """Every thread's stack to stderr, now."""
    sys.stderr.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)


def arm_overrun_guard(name: str, bound_seconds: float) -> None:
    """From now on the process has `bound_seconds` to exit; past that it logs, dumps every thread's stack and
    exits 1. Call it when the shutdown begins (not from a signal handler: it starts a thread). Arming twice keeps
    the first deadline."""
    global _guard_armed
    with _guard_lock:
        if _guard_armed:
            return
        _guard_armed = True

    def overrun() -> None:
        logger.error("event=%s_shutdown_overran bound_seconds=%g action=dump_stacks_and_exit", name, bound_seconds)
        for handler in logging.getLogger().handlers:
            handler.flush()
        dump_stacks()
        os._exit(OVERRUN_EXIT_CODE)

    timer = threading.Timer(bound_seconds, overrun)
    timer.name = f"{name}-shutdown-guard"
    timer.daemon = True  # it must not itself keep the process alive
    timer.start()
    faulthandler.dump_traceback_later(bound_seconds + _C_BACKSTOP_SECONDS, exit=True, file=sys.stderr)


def run_until_signalled(name: str, work: Callable[[threading.Event], None], *, bound_seconds: float) -> int:
    """Run `work(stop)` on a worker thread until it returns; SIGTERM/SIGINT set `stop` and arm the overrun guard.

    `work` must return soon after `stop` is set, having finished or safely abandoned what it held. Returns 0 when
    `work` returned, 1 when it raised (logged with its traceback). Call from the main thread."""
    enable_stack_dumps()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)  # a handler must never block: a full pipe already says "stop"
    stop = threading.Event()
    failed: list[BaseException] = []

    def on_signal(number: int, _frame: object) -> None:
        with contextlib.suppress(OSError):  # a full pipe already says "stop"
            os.write(write_end, bytes([number]))

    def worker() -> None:
        try:
            work(stop)
        except BaseException as error:  # reported by the main thread, which decides the exit code
            failed.append(error)
        finally:
            os.write(write_end, bytes([_WORK_DONE]))

    # The handlers stay installed after the work returned (the pipe stays open for them): a late SIGTERM during
    # interpreter exit (the SDK's atexit flush) must not kill the process with the default action.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, on_signal)
    while _deferred:  # a stop asked for during start-up: the work sees `stop` set at once
        on_signal(_deferred.pop(0), None)
    thread = threading.Thread(target=worker, name=f"{name}-main", daemon=True)
    thread.start()
    stopping = False
    while True:
        select.select([read_end], [], [])  # retried after a signal's handler has run (PEP 475)
        number = os.read(read_end, 1)[0]
        if number == _WORK_DONE:
            break
        signame = signal.Signals(number).name
        if stopping:
            logger.info("event=%s_stopping signal=%s again=true", name, signame)
            continue
        stopping = True
        logger.info("event=%s_stopping signal=%s bound_seconds=%g", name, signame, bound_seconds)
        arm_overrun_guard(name, bound_seconds)
        stop.set()
    thread.join()
    if failed:
        error = failed[0]
        logger.error("event=%s_failed error=%s", name, error, exc_info=(type(error), error, error.__traceback__))
        return 1
    return 0
