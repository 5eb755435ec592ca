"""The verification record as the runner writes it: per-page, merged, steady."""

from mdrun import results


def record(text="# Page\n", seconds=None, date="2026-01-02"):
    made = results.new_record(text, total=1, lock="abc")
    made.update(passed=1, date=date)
    if seconds is not None:
        made["seconds"] = seconds
    return made


def test_saving_some_pages_keeps_every_other_page_as_the_file_has_it(tmp_path):
    results.save(tmp_path, {"docs/a.md": record()})
    results.save(tmp_path, {"docs/b.md": record("# B\n")})
    assert set(results.load(tmp_path)) == {"docs/a.md", "docs/b.md"}


def test_noise_in_the_times_keeps_the_old_date_and_times(tmp_path):
    results.save(tmp_path, {"p.md": record(seconds={"": 20.0, "B": 0.5})})
    results.save(tmp_path, {"p.md": record(seconds={"": 24.0, "B": 1.4},
                                           date="2026-03-04")})
    kept = results.load(tmp_path)["p.md"]
    assert (kept["seconds"], kept["date"]) == ({"": 20.0, "B": 0.5}, "2026-01-02")
    results.save(tmp_path, {"p.md": record(seconds={"": 40.0, "B": 0.5},
                                           date="2026-03-04")})
    moved = results.load(tmp_path)["p.md"]
    assert (moved["seconds"], moved["date"]) == ({"": 40.0, "B": 0.5}, "2026-03-04")
    assert results.seconds(moved) == 40.5 and results.seconds({}) is None
    assert results.seconds({"seconds": {}}) == 0.0  # a page with no Python


def test_a_run_records_each_reader_paths_wall_time(pytester):
    (pytester.path / "docs").mkdir()
    (pytester.path / "docs" / "t.md").write_text(
        '=== "A"\n\n    ```python\n    x = 1\n    ```\n\n'
        '=== "B"\n\n    ```python\n    import time; time.sleep(1.2)\n    ```\n')
    pytester.runpytest("-p", "no:cacheprovider", "docs").assert_outcomes(passed=2)
    seconds = results.load(pytester.path)["docs/t.md"]["seconds"]
    assert set(seconds) == {"A", "B"} and seconds["B"] >= 1.2 > seconds["A"]


def test_changed_runs_only_pages_changed_since_their_record(pytester):
    docs = pytester.path / "docs"
    docs.mkdir()
    (docs / "same.md").write_text("```python\nx = 1\n```\n")
    (docs / "edited.md").write_text("```python\ny = 1\n```\n")
    pytester.runpytest("-p", "no:cacheprovider", "docs").assert_outcomes(passed=2)
    (docs / "edited.md").write_text("```python\ny = 2\n```\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "docs", "--changed")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["docs: 1 blocks on 1 pages*"])
    record = results.load(pytester.path)["docs/edited.md"]
    assert results.stale(record, "```python\ny = 2\n```\n", None) is None
    pytester.runpytest("-p", "no:cacheprovider", "docs", "--changed"
                       ).assert_outcomes(deselected=2)


def test_a_test_folder_reruns_when_any_input_changes(tmp_path):
    from changed import digest

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("a")
    (tmp_path / "mkdocs.yml").write_text("site_name: x")
    before = digest(tmp_path, ["docs", "mkdocs.yml", "missing"])
    assert digest(tmp_path, ["docs", "mkdocs.yml", "missing"]) == before
    (tmp_path / "docs" / "b.md").write_text("")
    assert digest(tmp_path, ["docs", "mkdocs.yml", "missing"]) != before


def test_a_page_updated_from_its_run_is_verified_by_that_run(pytester):
    """--update-outputs writes what the run printed, so the record covers the
    page as rewritten, and CI's record check passes without another run."""
    page = pytester.path / "docs" / "up.md"
    page.parent.mkdir()
    page.write_text("```python\nprint(6 * 7)\n```\n\n"
                    "<!--pytest-codeblocks:expected-output-->\n```text\n```\n")
    pytester.runpytest("-p", "no:cacheprovider", "docs", "--update-outputs"
                       ).assert_outcomes(passed=1)
    text = page.read_text()
    assert "42" in text
    assert results.stale(results.load(pytester.path)["docs/up.md"], text, None) is None


def test_a_collection_error_starts_no_page():
    """pytest stops at a collection error; the runner must not start pages then."""
    from types import SimpleNamespace

    from mdrun import plugin, report
    from mdrun.scheduler import Job, Step

    step = Step(block=None, name="docs/good.md::L1", timeout=1.0)
    item = object.__new__(plugin.CodeItem)  # a collected block, without pytest
    item.job, item.step = Job([step], page="docs/good.md"), step
    submitted = []
    scheduler = SimpleNamespace(plan=lambda jobs, background: None,
                                submit=submitted.append)
    option = SimpleNamespace(collectonly=False, continue_on_collection_errors=False)
    config = SimpleNamespace(option=option, stash={
        plugin.SCHEDULER: scheduler, plugin.RESULTS: {}, plugin.TALLY: report.Tally()})
    session = SimpleNamespace(config=config, items=[item], testsfailed=1)
    plugin.pytest_runtestloop(session)
    assert submitted == []
    option.continue_on_collection_errors = True
    plugin.pytest_runtestloop(session)
    assert submitted == [item.job]


def test_recorded_versions_are_plain_strings(monkeypatch):
    """torch.__version__ is a str subclass of torch's own: sent as it is, unpickling
    a block's result would import torch into the runner's process (where it once
    crashed beside pytester's in-process runs)."""
    import sys
    import types

    from mdrun import session

    class TorchVersion(str):
        pass

    torch = types.ModuleType("torch")
    torch.__version__ = TorchVersion("2.13.0")
    monkeypatch.setitem(sys.modules, "torch", torch)
    versions = session._versions({"torch": torch})
    assert versions == {"PyTorch": "2.13.0"} and type(versions["PyTorch"]) is str
