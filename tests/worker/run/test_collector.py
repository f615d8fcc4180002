"""The cyclic collector is paused for a scoring run and always resumed after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests import factories as f
from worker.run import tick
from worker.run.gc_pause import collection_paused
from worker.run.tick import run_once


@pytest.fixture
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_collection_is_off_inside_and_back_on_after(collector_on: None) -> None:
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_host_stays_off(collector_on: None) -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_runs_keep_it_paused_until_the_last_one_ends(collector_on: None) -> None:
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collection_paused():
            first_in.set()
            second_done.wait(5)
            seen.append(gc.isenabled())

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with collection_paused():
        pass
    second_done.set()
    thread.join(5)
    assert seen == [False]  # the second run ending did not resume it under the first
    assert gc.isenabled()


def test_a_run_resumes_collection_even_when_it_fails(
    engine: Engine, collector_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")

    def broken(*_args: object, **_kwargs: object) -> None:
        assert not gc.isenabled()  # the pause covers scoring
        raise RuntimeError("scoring broke")

    monkeypatch.setattr(tick, "score_and_write", broken)
    with pytest.raises(RuntimeError, match="scoring broke"):
        run_once(engine, now=f.days_ago(0))
    assert gc.isenabled()
