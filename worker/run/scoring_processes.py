"""Score and write back a book in parts, one forked process per part.

Scoring is bound to one core: what is left per record (reasons, KPI
values, roll-ups) is Python. Each part (worker.run.scoring.ScoreShare) is a
share of the records; the forked child scores them from the book's columns,
inherited from the parent by the fork and only read (copy-on-write shares
them), writes its records back over its own database connections and ranks
its people's introducers, which it hands to the parent with its summary. On
the 1M benchmark the pipeline's run with two processes took 0.45-0.58 of the
time of a one-process regrade of the same run (bench/score.py (b) against
(e); not quite the same measurement), each process holding its own groups
of per-visit arrays. Parts
are independent: a record is written by exactly one process, and write-back
is per record, so the result is the same rows as a single-process run.

A child never outlives the process that forked it (`_die_with_parent`), and
holds the "scoring-process" lock while it lives, so a new run never overlaps
one left over (worker/run/lock.py).

Only PostgreSQL runs parts in parallel: SQLite has one writer at a time, so
children would queue on its lock. Where `os.fork` does not exist the parts run
one after the other in this process.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from storage.heap import free_pages_returned
from storage.introducer_store import IntroducerRow
from storage.writeback import WritebackCounts
from worker.run.lock import hold_process_lock

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_CHECK_SECONDS = 0.05


class ScoringProcessFailed(RuntimeError):
    """A scoring child died or raised; what it wrote before stays written."""


@dataclass
class PartSummary:
    """What one process scored and wrote, and the introducers it ranked."""

    records_scored: int = 0
    interactions: int = 0  # in the book scored from
    by_state: dict[str, int] = field(default_factory=dict)
    writeback: WritebackCounts = field(default_factory=WritebackCounts)
    # time.perf_counter() when its health was all written: CLOCK_MONOTONIC,
    # one clock for every process of the machine.
    written_at: float = 0.0
    introducers: list[IntroducerRow] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        # Pickle is safe here: the only reader is the parent of the process that wrote it.
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, payload: bytes) -> PartSummary:
        summary = pickle.loads(payload)  # noqa: S301 - our own child's payload, see to_bytes
        assert isinstance(summary, cls)
        return summary


def usable_processes(engine: Engine, configured: int) -> int:
    """Processes for one run: `configured`, or one per usable CPU (at most 4) for 0.

    Not one per idle CPU: a busy machine makes a second process no slower, and each
    process holds only its own share's groups and batches, the parent none past its
    own share, so two peak lower than one (at 1M: one 405 MiB; two, parent 369,
    child 353 MiB)."""
    if engine.dialect.name != "postgresql" or not hasattr(os, "fork"):
        return 1
    if configured > 0:
        return configured
    return max(1, min(4, _usable_cpus()))


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # Linux: the CPUs this process may run on
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


Part = Callable[[Engine], PartSummary]


def run_parts(engine: Engine, parts: Sequence[Part]) -> list[PartSummary]:
    """Run `parts[0]` here and every other part in a forked child; all summaries, in order."""
    if len(parts) <= 1 or not hasattr(os, "fork"):
        return [part(engine) for part in parts]
    # A child's resident memory starts as what the parent maps at the fork: free heap
    # pages left by the read and the index counted in every process (at 300k, 8 MiB
    # fewer in the parent and 12 MiB in the child that starts; at 1M the peaks did
    # not move: the parent's is at the end of its share, the child's in its own).
    free_pages_returned()
    children = [_fork(engine, part) for part in parts[1:]]
    try:
        first = parts[0](engine)
    finally:
        # Always reap the children, also when this process's own part failed.
        outcomes = [_collect(pid, reader) for pid, reader in children]
    failures = [error for error in outcomes if isinstance(error, str)]
    if failures:
        raise ScoringProcessFailed("; ".join(failures))
    return [first, *(o for o in outcomes if isinstance(o, PartSummary))]


def _fork(engine: Engine, part: Part) -> tuple[int, int]:
    reader, writer = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child; coverage cannot follow a fork
        os.close(reader)
        _child(engine, part, writer, parent)
    os.close(writer)
    return pid, reader


def _child(engine: Engine, part: Part, writer: int, parent: int) -> None:  # pragma: no cover
    status = 1
    try:
        _die_with_parent(parent)
        _reset_signals()
        # The parent's pooled connections belong to the parent: open our own.
        engine.dispose(close=False)
        # Held until this process ends: a new run waits for it (worker/run/lock.py).
        _lifetime_lock = hold_process_lock(engine)
        payload = part(engine).to_bytes()
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(payload)
        status = 0
    except BrokenPipeError:
        pass  # the parent is gone, with nobody left to tell: end quietly
    except BaseException:
        log.exception("scoring process %d failed", os.getpid())
    finally:
        # No atexit handlers, no flushing of buffers inherited from the parent.
        os._exit(status)


def _die_with_parent(parent: int) -> None:  # pragma: no cover - child
    """End this process the moment its parent ends, however it ends (kill -9 too).

    A scoring process writes back records its parent was given the run lock
    for; once the parent is gone the lock is gone too and a new run may start,
    so a child that went on writing would overlap it. On Linux the kernel
    sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG): nothing runs
    after that, no commit and no traceback, and an unfinished write-back
    transaction is rolled back by the server. (The signal follows the thread
    that forked, which waits for its children, so it comes when the process
    dies.) Elsewhere a watcher thread looks for the parent every 50 ms. A
    parent that died before either was in place is caught by the check after.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            _watch_parent(parent)
    else:
        _watch_parent(parent)
    if os.getppid() != parent:
        os._exit(1)


def _watch_parent(parent: int) -> None:  # pragma: no cover - child, not on Linux
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _reset_signals() -> None:  # pragma: no cover - child
    """The parent's handlers (a service's graceful stop) are not the child's business:
    the parent stops its children by waiting for them."""
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)


def _collect(pid: int, reader: int) -> PartSummary | str:
    with os.fdopen(reader, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not payload:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        return f"scoring process {pid} {how}; its records keep their previous health"
    return PartSummary.from_bytes(payload)


def merged(summaries: Sequence[PartSummary]) -> PartSummary:
    total = PartSummary()
    for summary in summaries:
        total.records_scored += summary.records_scored
        total.interactions = max(total.interactions, summary.interactions)
        for state, count in summary.by_state.items():
            total.by_state[state] = total.by_state.get(state, 0) + count
        _add_counts(total.writeback, summary.writeback)
        total.written_at = max(total.written_at, summary.written_at)
        total.introducers.extend(summary.introducers)
    return total


def _add_counts(total: WritebackCounts, part: WritebackCounts) -> None:
    total.records_updated += part.records_updated
    total.kpis_written += part.kpis_written
    total.snapshots_written += part.snapshots_written
    total.unchanged += part.unchanged
    for record_type, count in part.by_type.items():
        total.by_type[record_type] = total.by_type.get(record_type, 0) + count
