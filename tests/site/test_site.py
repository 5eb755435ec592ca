"""The site as built: strict, complete, and every shown Python block is tested."""

import importlib.util
import re
import subprocess
import sys
from collections import Counter

import pytest
from bs4 import BeautifulSoup
from mdrun.markdown import PYTHON, parse
from project import ROOT, html_file, markdown_sources, parsed_pages, site_config


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
    return site_config()


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


def test_nav_follows_the_reading_order_the_home_page_recommends(config):
    """The home page recommends an order (NumPy first); the nav keeps to it."""
    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    sentence = next((s for s in home.split("\n\n") if "from the bottom up" in s), None)
    assert sentence, "docs/index.md no longer says which order to read the pages in"
    recommended = re.findall(r"\]\(([\w-]+\.md)\)", sentence)
    listed = [p for p in nav_pages(config["nav"]) if p in recommended]
    assert listed == recommended, (
        f"mkdocs.yml's nav lists {listed}; the home page recommends {recommended}")


TOOL_ORDER = ["NumPy", "PyTorch", "TensorFlow", "Keras"]  # the home page's order


def test_every_tab_set_orders_the_tools_the_same_way():
    """A reader who picks a tool finds it in the same place in every tab set."""
    problems = []
    for _, page in parsed_pages():
        for labels in page.tab_sets.values():
            tools = [label for label in labels if label in TOOL_ORDER]
            if tools != sorted(tools, key=TOOL_ORDER.index):
                problems.append(f"{page.path}: tabs {labels}")
    assert not problems, f"order tabs as {TOOL_ORDER}:\n" + "\n".join(problems)


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


def test_every_rendered_python_block_is_one_the_runner_collected(built_site):
    """Coverage is proven: the Python blocks a reader sees are the ones the runner
    collected, block for block (a block shown twice must be collected twice)."""
    checked = 0
    languages = {f"language-{name}" for name in PYTHON}
    for _, page in parsed_pages():
        collected = Counter(b.code.strip() for b in page.blocks if b.kind == "python")
        html = BeautifulSoup(html_file(built_site, page.path).read_text(),
                             "html.parser")
        shown = Counter(div.find("code").get_text().strip()
                        for div in html.select("div.highlight")
                        if set(div.get("class", [])) & languages)
        assert shown - collected == Counter(), f"{page.path}: shown but not run"
        assert collected - shown == Counter(), f"{page.path}: run but not shown"
        checked += sum(shown.values())
    assert checked > 0


def test_code_lines_fit_in_88_characters():
    """Readers copy the blocks; no line of any block is over 88 characters."""
    long = []
    for source in [ROOT / "README.md", *markdown_sources()]:
        page = source.relative_to(ROOT).as_posix()
        for block in parse(source.read_text(encoding="utf-8"), page).blocks:
            for offset, line in enumerate(block.code.split("\n")):
                if len(line) > 88:
                    long.append(f"{page}:{block.line + 1 + offset}: {len(line)} chars")
    assert not long, "\n".join(long)


def run_set_up(root=ROOT):
    return subprocess.run([sys.executable, str(root / "tests/tools/setup_venv.py")],
                          capture_output=True, text=True, cwd=root)


def test_set_up_is_idempotent_and_keyed_on_the_lock():
    """A second set-up installs nothing: the venv already equals the lock."""
    result = run_set_up()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", "set-up should install nothing the second time"
    assert len(list((ROOT / ".venv").glob(".lock-*"))) == 1


def test_the_venv_holds_exactly_the_lock():
    """pip freeze (less this project, installed editable) equals requirements.lock."""
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all",
                             "--exclude-editable"], capture_output=True, text=True,
                            check=True).stdout
    def pins(text):
        return {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower() + "=="
                + line.split("==")[1] for line in
                (row.split("#")[0].strip() for row in text.splitlines())
                if "==" in line}
    locked = pins((ROOT / "requirements.lock").read_text())
    assert pins(freeze) == locked


def test_a_pin_missing_from_the_lock_fails_set_up_with_the_command(tmp_path):
    (tmp_path / "tests" / "tools").mkdir(parents=True)
    for name in ("requirements.lock", "tests/tools/setup_venv.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(pyproject.replace(
        '"pyyaml==6.0.3",', '"pyyaml==6.0.3", "tomli-w==1.2.0",'))
    result = run_set_up(tmp_path)
    assert result.returncode != 0
    assert ("requirements.lock does not match pyproject.toml: tomli-w==1.2.0 is not "
            "in the lock. Run 'make lock'") in result.stderr
    assert not (tmp_path / ".venv").exists(), "nothing is installed from a bad lock"


def test_set_up_finds_a_venv_that_drifted_from_the_lock():
    """A package installed, removed or changed by hand is found, to be repaired."""
    spec = importlib.util.spec_from_file_location(
        "setup_venv", ROOT / "tests" / "tools" / "setup_venv.py")
    setup_venv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_venv)
    locked = {"numpy": "2.4.6", "torch": "2.13.0+cpu"}
    assert setup_venv.drift(dict(locked), locked) == ([], [])
    assert setup_venv.drift({**locked, "dl-field-guide": "0.1.0"}, locked) == ([], [])
    assert setup_venv.drift({**locked, "tomli-w": "1.2.0"}, locked) == (["tomli-w"], [])
    assert setup_venv.drift({"torch": "2.13.0+cpu"}, locked) == ([], ["numpy"])
    assert setup_venv.drift({**locked, "numpy": "2.4.5"}, locked) == ([], ["numpy"])


def test_set_up_without_an_interpreter_fails_with_a_clear_reason():
    result = subprocess.run(["make", "--no-print-directory", "setup",
                             "PYTHON=no-such-python3"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0
    assert "set-up failed: 'no-such-python3' not found" in result.stdout
