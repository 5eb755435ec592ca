"""The site as built: strict, complete, and every shown Python block is tested."""

import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from mdrun.markdown import PYTHON, parse
from mkdocs.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def nav_pages(nav):
    """Every Markdown page named in a MkDocs nav, in order."""
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from nav_pages(value)
        elif isinstance(value, str) and not value.startswith(("http:", "https:")):
            yield value


@pytest.fixture(scope="module")
def config():
    return load_config(str(ROOT / "mkdocs.yml"))


def test_every_nav_entry_exists_and_every_page_is_in_the_nav(config):
    listed = list(nav_pages(config["nav"]))
    def exists(entry):  # a page in docs/, or a notebook built from examples/*.py
        return (ROOT / "docs" / entry).exists() or (
            entry.startswith("examples/") and entry.endswith(".ipynb")
            and (ROOT / entry).with_suffix(".py").exists())

    assert [p for p in listed if not exists(p)] == []
    pages = {p.relative_to(ROOT / "docs").as_posix()
             for p in (ROOT / "docs").rglob("*.md")}
    assert pages - set(listed) == set(), "add these pages to nav: in mkdocs.yml"


def test_nav_follows_the_design_order(config):
    titles = [next(iter(e)) for e in config["nav"]]
    order = ["Overview", "TensorFlow", "Keras", "PyTorch", "NumPy", "ResNets",
             "Compare", "Examples"]
    ranks = [next(i for i, o in enumerate(order) if t.startswith(o)) for t in titles]
    assert ranks == sorted(ranks), titles


def test_the_site_is_offline_safe_by_configuration(config):
    assert config["theme"]["font"] is False, "theme.font: false (no Google Fonts)"
    assert not config["extra_javascript"] or all(
        not str(js).startswith(("http:", "https:", "//"))
        for js in config["extra_javascript"])
    assert "analytics" not in config["extra"]


def test_the_strict_build_publishes_media_without_a_copy_in_docs(built_site):
    assert not (ROOT / "docs" / "media").exists()
    for image in (ROOT / "media").iterdir():
        assert (built_site / "media" / image.name).read_bytes() == image.read_bytes()


def rendered_page(site, source):
    name = source.with_suffix("").relative_to(ROOT / "docs").as_posix()
    if name == "index":
        return site / "index.html"
    return site / name.removesuffix("/index") / "index.html"


def test_every_rendered_python_block_is_one_the_runner_collected(built_site):
    """Coverage is proven: what a reader sees as Python is what the runner ran."""
    checked = 0
    for source in sorted((ROOT / "docs").rglob("*.md")):
        page = source.relative_to(ROOT).as_posix()
        collected = {b.code.strip() for b in parse(source.read_text(), page).blocks
                     if b.kind == "python"}
        html = BeautifulSoup(rendered_page(built_site, source).read_text(),
                             "html.parser")
        shown = [div.find("code").get_text().strip()
                 for div in html.select("div.highlight")
                 if set(div.get("class", [])) & {f"language-{p}" for p in PYTHON}]
        missing = [code for code in shown if code not in collected]
        assert not missing, f"{page}: blocks shown but not run:\n" + "\n---\n".join(
            missing)
        assert len(shown) >= len(collected), f"{page}: a collected block is not shown"
        checked += len(shown)
    assert checked > 0


def test_code_lines_fit_in_88_characters():
    """Readers copy the blocks; no line of any block is over 88 characters."""
    long = []
    for source in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        page = source.relative_to(ROOT).as_posix()
        for block in parse(source.read_text(encoding="utf-8"), page).blocks:
            for offset, line in enumerate(block.code.split("\n")):
                if len(line) > 88:
                    long.append(f"{page}:{block.line + 1 + offset}: {len(line)} chars")
    assert not long, "\n".join(long)


def test_set_up_is_idempotent_and_keyed_on_the_pins():
    """A second set-up installs nothing: the stamp for these pins exists."""
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "bootstrap_venv.py")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", "set-up should install nothing the second time"
    assert len(list((ROOT / ".venv").glob(".pins-*"))) == 1


def test_set_up_without_an_interpreter_fails_with_a_clear_reason():
    result = subprocess.run(["make", "--no-print-directory", "setup",
                             "PYTHON=no-such-python3"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0
    assert "set-up failed: 'no-such-python3' not found" in result.stdout
