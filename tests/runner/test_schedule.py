"""Scheduling: places go to the earliest-submitted waiting path, an interrupted run
wakes every waiting path, a path waiting for its warm interpreter's imports keeps
no worker from the paths that can run, and beside other tests pages run in the
background."""

import json
import os
import threading
import time

import pytest
from mdrun import results, scheduler
from mdrun.scheduler import NICE, Interrupted, _Places, _scratch
from pages import run, write_page


def _waiters(places, ranks, taken, ready=lambda: True):
    """Start a thread per rank that takes a place and notes its rank; return them
    once all are waiting."""
    threads = []
    waiting = len(places._waiting) + len(ranks)
    for rank in ranks:
        def take(rank=rank):
            try:
                places.take(rank, ready)
                taken.append(rank)
            except Interrupted:
                taken.append(("interrupted", rank))
        thread = threading.Thread(target=take)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + 5
    while len(places._waiting) < waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    return threads


def _next_taken(places, taken):
    """Give a place back and wait until a waiting thread took it."""
    before = len(taken)
    places.give_back()
    deadline = time.monotonic() + 5
    while len(taken) == before and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_freed_place_goes_to_the_lowest_waiting_rank():
    places, taken = _Places(1), []
    places.take(0)
    threads = _waiters(places, [5, 2, 9, 1], taken)
    for _ in range(4):
        _next_taken(places, taken)
    for thread in threads:
        thread.join(5)
    assert taken == [1, 2, 5, 9]


def test_a_path_not_ready_lets_later_ones_pass_then_goes_first_once_ready():
    """A path whose warm interpreter is still importing takes no place; once it
    is ready, it goes before the later paths still waiting."""
    places, taken, imported = _Places(1), [], threading.Event()
    places.take(0)
    threads = _waiters(places, [1], taken, ready=imported.is_set)
    threads += _waiters(places, [2, 3], taken)
    _next_taken(places, taken)
    imported.set()
    places.poke()
    _next_taken(places, taken)
    _next_taken(places, taken)
    for thread in threads:
        thread.join(5)
    assert taken == [2, 1, 3]


def test_closing_wakes_every_waiting_path_with_interrupted():
    places, taken = _Places(1), []
    places.take(0)
    threads = _waiters(places, [3, 4], taken)
    places.close()
    for thread in threads:
        thread.join(5)
    assert sorted(taken) == [("interrupted", 3), ("interrupted", 4)]
    with pytest.raises(Interrupted):
        places.take(7)


def test_a_path_waiting_for_its_warm_interpreter_holds_no_worker(pytester):
    """With one worker, the page that needs no Keras runs, start to end, while the
    path submitted before it waits for its Keras interpreter's imports."""
    pytester.makeini("[pytest]\ncodeblocks_preload = keras\n")
    write_page(pytester, "a_keras.md", """
        ```python
        import os
        os.environ["KERAS_BACKEND"] = "torch"
        import keras
        ```
    """)
    write_page(pytester, "b_plain.md", """
        ```python
        x = 1
        ```
    """)
    timings = pytester.path / "timings.json"
    result = run(pytester, "a_keras.md", "b_plain.md", "--codeblocks-workers", "1",
                 f"--codeblocks-timings={timings}")
    result.assert_outcomes(passed=2)
    paths = {p["page"]: p for p in json.loads(timings.read_text())["paths"]}
    assert paths["b_plain.md"]["ended"] < paths["a_keras.md"]["began"]


def test_beside_other_tests_pages_run_in_the_background_and_keep_their_times(
        pytester, monkeypatch):
    """With a test file in the run, the page's session runs at a lower priority, its
    items are reported after the test file's, and its record keeps the recorded
    time; run alone, it runs at the usual priority and records its time."""
    (pytester.path / "docs").mkdir()
    write_page(pytester, "docs/p.md", """
        ```python
        import os
        assert os.nice(0) == int(os.environ["EXPECTED_NICE"]), os.nice(0)
        ```
    """)
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    monkeypatch.setenv("EXPECTED_NICE", str(os.nice(0)))  # as this process
    run(pytester, "docs").assert_outcomes(passed=1)
    records = results.load(pytester.path)
    assert set(records["docs/p.md"]["seconds"]) == {""}
    records["docs/p.md"]["seconds"] = {"": 99.0}  # unlike any time it takes
    (pytester.path / results.RECORD).write_text(json.dumps(records))
    monkeypatch.setenv("EXPECTED_NICE", str(min(19, os.nice(0) + NICE)))  # 19: the cap
    result = run(pytester, "-v", "test_other.py", "docs")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["test_other.py::test_other PASSED*",
                                 "docs/p.md::L1 PASSED*",
                                 "*in the background, beside 1 other tests"])
    assert results.load(pytester.path)["docs/p.md"]["seconds"] == {"": 99.0}


def test_working_folders_go_to_memory_only_where_there_is_room(tmp_path, monkeypatch):
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(scheduler, "SCRATCH_FREE", 1)
    assert _scratch(str(tmp_path)) == str(tmp_path)
    assert _scratch(str(tmp_path / "missing")) is None
    monkeypatch.setattr(scheduler, "SCRATCH_FREE", 2 ** 62)  # more than it has
    assert _scratch(str(tmp_path)) is None
    monkeypatch.setattr(scheduler, "SCRATCH_FREE", 1)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the user's choice wins
    assert _scratch(str(tmp_path)) is None
