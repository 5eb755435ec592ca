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
