"""Downloads and the verified-with stamp, as the built site offers them."""

import re
import subprocess
import sys

import nbformat
from bs4 import BeautifulSoup
from mdrun import export, results
from mdrun.directives import skip_reason
from nbclient import NotebookClient
from project import ROOT, html_file, parsed_pages

# Pages whose downloads are also executed here, in an empty folder; every other
# page's downloads hold the same blocks the runner executed on that page.
RUN_SCRIPT = ("docs/pytorch.md", None)
RUN_NOTEBOOK = ("docs/numpy.md", "PyTorch")


def pages():
    """(source, page) for every page with Python blocks."""
    return [(source, page) for source, page in parsed_pages() if page.reader_paths()]


def in_code(page, line):
    """True if the page's `line` is inside a code block or an expected output."""
    return any(fence.line <= line <= fence.end for block in page.blocks
               for fence in (block, block.output) if fence is not None)


def _held(block, page):
    """Why a download keeps the block as comments: never run, or a solution."""
    reason = skip_reason(block.directives, page)
    if reason is not None:
        return [f"# Not run by the tests: {reason}"]
    if block.solution:
        return ["# A solution: the tests run it in a copy of the session, so nothing "
                "after it sees what it does.", "# Uncomment it to run it here."]
    return None


def _as_downloaded(block, page):
    """A block as downloads hold it: its code, or a note and its code as comments."""
    note = _held(block, page)
    lines = block.code.rstrip("\n").split("\n")
    if note is None:
        return "\n".join(lines)
    return "\n".join(note + [("# " + line).rstrip() for line in lines])


def html_of(site, page):
    return BeautifulSoup(html_file(site, page.path).read_text(), "html.parser")


def test_every_page_with_code_offers_a_notebook_and_a_script_per_reader_path(
        built_site):
    """Each reader path's notebook holds the page's prose as Markdown, its blocks as
    code cells, exactly as the runner ran them, with the outputs the page shows;
    the script holds the same code, the prose as comments, and no markers."""
    for source, page in pages():
        links = {a["href"].rsplit("/", 1)[-1] for a in
                 html_of(built_site, page).select("a[download]")}
        for label, blocks in page.reader_paths():
            name = export.download_name(page.path, label)
            base = name.rsplit("/", 1)[-1]
            assert {f"{base}.py", f"{base}.ipynb"} <= links, page.path
            nb = nbformat.reads((built_site / f"{name}.ipynb").read_text(), 4)
            nbformat.validate(nb)
            code = [cell for cell in nb.cells if cell.cell_type == "code"]
            assert [cell.source for cell in code] == [
                _as_downloaded(b, page.path) for b in blocks], (page.path, label)
            for cell, block in zip(code, blocks, strict=True):
                shown = block.output.code if block.output else ""
                printed = "".join(o.text for o in cell.outputs if o.name == "stdout")
                assert printed == (shown if shown.strip() else ""), block.line
            prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            headings = [line for n, line in enumerate(
                source.read_text("utf-8").split("\n"), start=1)
                if re.match(r"#{1,2} ", line) and not in_code(page, n)]
            assert headings and all(h in prose for h in headings), (
                page.path, label, "the page's headings are missing from the prose")
            assert "description:" not in prose, "front matter is not prose"
            script = (built_site / f"{name}.py").read_text()
            assert not re.search(r"# --- docs/\S+, line \d+ ---", script), page.path
            statements = [line for line in script.split("\n")
                          if line.strip() and not line.startswith("#")]
            assert statements == [line for b in blocks if not _held(b, page.path)
                                  for line in b.code.split("\n")
                                  if line.strip() and not line.startswith("#")]


def test_the_stamp_shows_what_the_committed_record_says(built_site):
    """Each page's stamp repeats its record: date, blocks and versions."""
    records, lock = results.load(ROOT), results.lock_hash(ROOT)
    for source, page in pages():
        stamp = html_of(built_site, page).select_one("article .stamp")
        assert stamp is not None, f"{page.path}: no stamp under the title"
        record = records.get(page.path)
        text = stamp.get_text(" ", strip=True)
        if record is None:
            assert "stamp--unverified" in stamp["class"], page.path
            continue
        current = record["sha256"] == results.page_hash(
            source.read_text(encoding="utf-8")) and record["lock"] == lock
        if not current:
            assert "stamp--changed" in stamp["class"], page.path
            assert f"on {record['date']}" in text, page.path
            continue
        assert "stamp--verified" in stamp["class"], (page.path, text)
        assert f"Verified on {record['date']}" in text, page.path
        assert f"{record['blocks']} blocks" in text, page.path
        for name, version in record["versions"].items():
            assert f"{name} {version}" in text, page.path


def test_the_verdict_reads_the_record_and_the_page_as_they_are():
    record = results.new_record("# Page\n", total=2, lock="abc")
    record.update(passed=2, date="2026-01-02", versions={"Python": "3.11.7",
                                                         "NumPy": "2.4.6"})
    assert results.verdict(record, "# Page\n", "abc") == (
        "verified", "Verified on 2026-01-02 · 2 blocks, all passed · Python 3.11.7 · "
        "NumPy 2.4.6")
    assert results.verdict(record, "# Page, edited\n", "abc") == (
        "changed", "The page changed after its last verified run, on 2026-01-02; "
        "it is verified again by the next test run.")
    assert results.verdict(record, "# Page\n", "new")[0] == "changed"
    assert results.verdict(None, "# Page\n", "abc") == (
        "unverified", "Not yet verified: no test run has recorded this page.")
    record["passed"] = 1
    assert results.verdict(record, "# Page\n", "abc")[0] == "failed"


def test_a_downloaded_script_runs_in_an_empty_folder(built_site, tmp_path):
    name = export.download_name(*RUN_SCRIPT)
    script = tmp_path / "page.py"
    script.write_text((built_site / f"{name}.py").read_text())
    result = subprocess.run([sys.executable, script.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600,
                            env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg",
                                 "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_downloaded_notebook_runs_in_jupyter(built_site, tmp_path):
    name = export.download_name(*RUN_NOTEBOOK)
    nb = nbformat.reads((built_site / f"{name}.ipynb").read_text(), 4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(isinstance(cell.execution_count, int) for cell in code)
    assert not [out for cell in code for out in cell.outputs
                if out.output_type == "error"]
    assert any(cell.outputs for cell in code), "the notebook printed nothing"
