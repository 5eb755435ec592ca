"""--shard K/N and the order reader paths start in, on small cases and the real pages.

Shards keep a page's reader paths together, are disjoint, together hold every
test, and each stays within the heaviest page of an even share of the recorded
time. Paths start longest first, those with no recorded time before all.
"""

import subprocess
import sys

import pytest
from mdrun import results, shard
from mdrun.plugin import _longest_first
from mdrun.scheduler import Job
from project import ROOT


@pytest.mark.parametrize("value", ["3/2", "0/2", "1/0", "x", "1/2/3", "-1/2", "1.5/2",
                                   "", " / "])
def test_a_malformed_shard_is_a_usage_error_that_shows_the_form(value):
    with pytest.raises(shard.ShardError, match=r"--shard .*(K/N|between 1 and N)"):
        shard.parse(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("1/2", (1, 2)), (" 2/2 ", (2, 2)), ("1/1", (1, 1)), ("10/12", (10, 12))])
def test_a_well_formed_shard_is_read_as_k_of_n(value, expected):
    assert shard.parse(value) == expected


def test_a_bad_shard_stops_pytest_before_anything_runs(pytester):
    pytester.makefile(".md", page="```python\nx = 1\n```\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--shard", "3/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--shard 3/2: K must be between 1 and N*"])


def test_dealing_is_balanced_deterministic_and_fills_unknown_times():
    weights = {"a": 9.0, "b": 7.0, "c": 6.0, "d": 5.0, "e": 4.0, "f": None}
    shards = shard.deal(weights, 2)
    assert shards == shard.deal(dict(reversed(weights.items())), 2)
    assert sorted(sum(shards, [])) == sorted(weights)
    mean = sum(w for w in weights.values() if w) / 5
    loads = [sum(weights[name] or mean for name in names) for names in shards]
    assert max(loads) - min(loads) <= max(w or mean for w in weights.values())
    assert shard.deal({"a": None, "b": None}, 2) == [["a"], ["b"]]
    assert shard.deal({"a": 1.0}, 3) == [["a"], [], []]


def test_the_heaviest_go_first_and_unknown_times_weigh_the_mean():
    # In the order given, or by name, a and b would share a shard: 3 against 1.
    assert shard.deal({"a": 1.0, "b": 1.0, "c": 2.0}, 2) == [["c"], ["a", "b"]]
    # c and d weigh 4.5 each (not 1.0), so they go before b and share a shard.
    assert shard.deal({"a": 5.0, "b": 4.0, "c": None, "d": None}, 2) == [
        ["a", "b"], ["c", "d"]]
    assert shard.deal({"b": 2.0, "a": 2.0}, 2) == [["a"], ["b"]]  # ties by name


def collected(*args):
    """The test ids one collection of the real pages gives."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
         "no:cacheprovider", "docs", "README.md", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {line for line in done.stdout.split("\n") if "::" in line}


def test_two_shards_of_the_real_pages_are_disjoint_complete_and_balanced():
    everything = collected()
    first, second = collected("--shard", "1/2"), collected("--shard", "2/2")
    assert first and second and not first & second
    assert first | second == everything
    page_of = {test: test.split("::")[0] for test in everything}
    for one, other in ((first, second), (second, first)):
        assert not {page_of[t] for t in one} & {page_of[t] for t in other}, \
            "a page's reader paths were split between shards"
    records = results.load(ROOT)
    times = {page: results.seconds(records.get(page)) for page in page_of.values()}
    known = [t for t in times.values() if t is not None]
    mean = sum(known) / len(known) if known else 1.0
    loads = [sum(times[p] or mean for p in {page_of[t] for t in part})
             for part in (first, second)]
    # Greedy dealing keeps each shard within the heaviest page of an even share.
    heaviest = max(t or mean for t in times.values())
    assert max(loads) <= sum(loads) / 2 + heaviest, loads


def job(page, label, records, seconds):
    if seconds is not None:
        records.setdefault(page, {"seconds": {}})["seconds"][label] = seconds
    return Job([], page=page, label=label)


def test_paths_start_longest_first_and_unrecorded_ones_before_all():
    records = {}
    jobs = [job("a.md", "", records, 5.0), job("b.md", "X", records, 30.0),
            job("b.md", "Y", records, 2.0), job("c.md", "", records, None),
            job("d.md", "", records, 30.0), job("e.md", "", {}, None)]
    order = [(j.page, j.label) for j in _longest_first(jobs, records)]
    assert order == [("c.md", ""), ("e.md", ""), ("b.md", "X"), ("d.md", ""),
                     ("a.md", ""), ("b.md", "Y")]
