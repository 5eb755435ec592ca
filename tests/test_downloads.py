"""Downloads and the verified-with stamp, as the built site offers them."""

import subprocess
import sys
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from mdrun import export, results
from mdrun.markdown import parse
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
# Pages whose downloads are also executed here, in an empty folder; every other
# page's downloads hold the same blocks the runner executed on that page.
RUN_SCRIPT = ("docs/pytorch.md", None)
RUN_NOTEBOOK = ("docs/numpy.md", "PyTorch")


def pages():
    for source in sorted((ROOT / "docs").rglob("*.md")):
        text = source.read_text(encoding="utf-8")
        page = parse(text, source.relative_to(ROOT).as_posix())
        if page.reader_paths():
            yield source, page


def html_of(site, page):
    name = page.path.removeprefix("docs/").removesuffix(".md")
    path = site / ("index.html" if name == "index" else f"{name}/index.html")
    return BeautifulSoup(path.read_text(), "html.parser")


def test_every_page_with_code_offers_a_notebook_and_a_script_per_reader_path(
        built_site):
    for _, page in pages():
        links = {a["href"].rsplit("/", 1)[-1] for a in
                 html_of(built_site, page).select("a[download]")}
        for label, blocks in page.reader_paths():
            name = export.download_name(page.path, label)
            base = name.rsplit("/", 1)[-1]
            assert {f"{base}.py", f"{base}.ipynb"} <= links, page.path
            script = (built_site / f"{name}.py").read_text()
            for block in blocks:
                assert f"# --- {page.path}, line {block.line} ---" in script
            nb = nbformat.reads((built_site / f"{name}.ipynb").read_text(), 4)
            nbformat.validate(nb)
            assert len(nb.cells) == len(blocks) + 1


def test_the_stamp_shows_what_the_last_test_run_recorded(built_site):
    records = results.load(ROOT)
    for source, page in pages():
        verified, sentence = results.verdict(records.get(page.path),
                                             source.read_text(encoding="utf-8"))
        box = html_of(built_site, page).select_one(".admonition")
        assert box.select_one(".admonition-title").get_text() == (
            "Verified" if verified else "Not verified"), page.path
        assert sentence in box.get_text(" ", strip=True).replace("\n", " "), page.path


def test_a_page_without_current_results_is_not_claimed_verified():
    record = results.new_record("# Page\n", total=2)
    record["passed"] = 2
    assert results.verdict(record, "# Page\n")[0] is True
    assert results.verdict(record, "# Page, edited\n") == (
        False, "The page changed after its last test run.")
    assert results.verdict(None, "# Page\n")[0] is False
    record["passed"] = 1
    assert results.verdict(record, "# Page\n")[0] is False


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
    assert all(cell.get("outputs") is not None for cell in nb.cells
               if cell.cell_type == "code")
