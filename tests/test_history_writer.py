"""The history writer thread: scans queued during another process's lock go in once, in order."""

from __future__ import annotations

import threading
import time

from portwatch.core.diff import Event, EventKind
from portwatch.core.history import HistoryError, HistoryReader, HistoryRecorder
from portwatch.core.history.writer import HistoryWriter
from tests.support.factories import node_listener as listener
from tests.support.history_lock import history_locked
from tests.test_history_storage import recorder


def test_jobs_queued_during_a_lock_are_written_once_in_order_when_it_goes() -> None:
    rec = recorder()
    failures: list[str] = []

    def flush(history: HistoryRecorder) -> None:
        try:
            history.flush()
        except HistoryError as exc:
            failures.append(str(exc))

    writer = HistoryWriter(rec, flush)
    now = time.time()
    with history_locked(rec.path):
        for port in range(4001, 4011):  # ten scans, each with an event
            event = Event(EventKind.BOUND, listener(port), now + port - 4000)

            def record(history: HistoryRecorder, event: Event = event) -> None:
                history.record_events([event])

            writer.submit(record)
        assert writer.wait_idle(30)
        assert failures, "the lock made a write fail"
        # Batched: far fewer attempts (each waits the busy timeout) than scans.
        assert len(failures) < 10
        assert rec.pending == 10
    writer.submit(lambda h: h.record_events([]))  # the next scan, with nothing new
    assert writer.wait_idle(30)
    assert rec.pending == 0
    with HistoryReader(rec.path) as reader:
        assert [e.port for e in reader.events()] == list(range(4001, 4011))
    writer.close()


def test_submit_never_waits_for_sqlite() -> None:
    rec = recorder()
    started = threading.Event()
    release = threading.Event()

    def slow(_history: HistoryRecorder) -> None:
        started.set()
        release.wait(10)

    writer = HistoryWriter(rec, lambda history: history.flush())
    writer.submit(slow)
    assert started.wait(5)
    begin = time.monotonic()
    for _ in range(100):
        writer.submit(lambda h: h.record_events([]))
    assert time.monotonic() - begin < 0.5
    release.set()
    assert writer.wait_idle(10)
    writer.close()
