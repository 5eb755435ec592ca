"""The example notebooks run, fail loudly, and reach the site executed.

Each examples/*.py runs in a fresh kernel (its own process) with a time limit, through
overrides/hooks/notebook_executor.py, which keeps the executed notebook in
.cache/notebooks/ for the build. An unchanged notebook (same script, lock, Python and
executor) is not run twice:
the cached run is the result. Set NOTEBOOKS_RERUN=1 to run them all again.
"""

import os
import subprocess
import sys
import textwrap

import nbformat
import notebook_executor as notebooks
import pytest
from project import ROOT

HOOKS = ROOT / "overrides" / "hooks" / "notebook_pages.py"
SOURCES = notebooks.sources(ROOT)


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_notebook_runs(source):
    if os.environ.get("NOTEBOOKS_RERUN"):
        notebooks.cache_path(source, ROOT).unlink(missing_ok=True)
    path = notebooks.executed(source, root=ROOT)
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    assert notebooks.figure_alts(nb), f"{source.name} shows no figure"


def test_at_least_two_notebooks():
    assert len(SOURCES) >= 2


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


FAILING = """
    # %% [markdown]
    # # A notebook that fails

    # %%
    total = 0

    # %%
    total += 1
    assert total == 2, "total is " + str(total)
    print("never printed")
"""


def test_failure_names_cell_and_script_line(tmp_path):
    source = write(tmp_path / "examples" / "bad.py", FAILING)
    with pytest.raises(notebooks.NotebookError) as info:
        notebooks.executed(source, root=tmp_path, timeout=120)
    message = str(info.value)
    assert message.startswith("examples/bad.py:9: cell 3 raised AssertionError")
    assert '--> assert total == 2, "total is " + str(total)' in message
    assert not list((tmp_path / ".cache" / "notebooks").glob("*/examples/bad.ipynb"))


def test_timeout_names_the_cell(tmp_path):
    source = write(
        tmp_path / "examples" / "slow.py",
        """
        # %%
        import time

        # %%
        time.sleep(60)
        """,
    )
    with pytest.raises(notebooks.NotebookError, match=r"slow.py:5: cell 2 timed out"):
        notebooks.executed(source, root=tmp_path, timeout=8)


def test_published_notebook_must_be_clean(tmp_path):
    """A cached notebook with an error output, or a figure without alt, is refused."""
    source = write(tmp_path / "examples" / "x.py", "# %%\n1 / 0\n")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 / 0", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="boom")
    ]
    nb.cells = [cell]
    with pytest.raises(notebooks.NotebookError, match=r"x.py:2: cell 1 raised Zero"):
        notebooks.check_publishable(nb, source, tmp_path)
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})
    ]
    with pytest.raises(notebooks.NotebookError, match="figure without alt text"):
        notebooks.check_publishable(nb, source, tmp_path)


def site_project(tmp_path, notebook_text):
    """A one-page MkDocs project using this site's notebook hook and plugin set-up."""
    write(tmp_path / "docs" / "index.md", "# Home\n")
    write(tmp_path / "examples" / "tiny.py", notebook_text)
    write(
        tmp_path / "mkdocs.yml",
        f"""
        site_name: notebook hook test
        strict: true
        theme:
          name: material
          font: false
        plugins:
          - search
          - mkdocs-jupyter:
              include: ["examples/*.ipynb"]
              execute: false
              allow_errors: false
              include_source: true
              cache: false
        hooks:
          - {HOOKS}
        nav:
          - Home: index.md
          - Tiny: examples/tiny.ipynb
        """,
    )
    return tmp_path


def build(project, **env):
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", "site"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_errored_notebook_fails_the_build(tmp_path):
    project = site_project(tmp_path, FAILING)
    result = build(project)
    assert result.returncode != 0
    assert "examples/tiny.py:9: cell 3 raised AssertionError" in result.stderr
    assert not (project / "site" / "examples" / "tiny").exists()


TINY = """
    # %% [markdown]
    # # Tiny

    # %% alt="A straight line"
    import matplotlib.pyplot as plt

    plt.plot([0, 1], [0, 1])
    plt.show()
"""


def test_build_renders_from_cache_without_running(tmp_path):
    project = site_project(tmp_path, TINY)
    first = build(project)
    assert first.returncode == 0, first.stderr
    cached = list((project / ".cache" / "notebooks").glob("*/examples/tiny.ipynb"))
    assert len(cached) == 1
    # The second build may only read the cache: with this variable a miss fails.
    stamp = cached[0].stat().st_mtime_ns
    second = build(project, NOTEBOOKS_CACHED_ONLY="1")
    assert second.returncode == 0, second.stderr
    assert cached[0].stat().st_mtime_ns == stamp
    page = (project / "site" / "examples" / "tiny" / "index.html").read_text()
    assert '<img alt="A straight line" ' in page and "No description" not in page
    assert 'href="tiny.ipynb" download' in page
    assert "cdnjs" not in page
    downloaded = nbformat.read(
        project / "site" / "examples" / "tiny" / "tiny.ipynb", as_version=4
    )
    assert downloaded.cells[1].outputs, "the download has the outputs"


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_notebook_page_in_site(built_site, source):
    page = built_site / "examples" / source.stem / "index.html"
    html = page.read_text(encoding="utf-8")
    assert f'href="{source.stem}.ipynb" download' in html
    assert (built_site / "examples" / source.stem / f"{source.stem}.ipynb").exists()
    assert "<img alt=" in html and "No description has been provided" not in html
    assert "Traceback" not in html and "cdnjs" not in html
    assert 'tabindex="0" class="highlight-ipynb' in html  # scrollable code: focusable
