"""`pytest --changed` for the project's own tests: skip a folder of tests whose
inputs are byte for byte as they were at its last run that passed in full.

The pages' part of --changed is the runner's (a page runs if its text or the lock
changed since its record). Here each test folder names what it checks; a run in
which every test of a folder was selected and passed stores a hash of those
inputs in .cache/changed.json, and --changed deselects a folder whose inputs hash
the same again. A run without --changed runs everything, as CI does.
"""

import hashlib
import json

import pytest
from project import ROOT

SITE = ["docs", "media", "examples", "overrides", "mkdocs.yml", "README.md",
        "tests/mdrun", "tests/project.py", "tests/conftest.py"]
# folder of tests -> the files and folders whose content its tests check
INPUTS = {
    "tests/runner": ["tests/mdrun", "tests/runner"],
    "tests/site": [*SITE, "tests/site"],
    "tests/browser": [*SITE, "tests/browser"],
}
COMMON = ["pyproject.toml", "requirements.lock", "tests/changed.py"]
STATE = ROOT / ".cache" / "changed.json"
GROUPS = pytest.StashKey[dict]()  # folder -> {"tests": selected, "passed": n}
UNCHANGED = pytest.StashKey[list]()  # folders --changed did not run


def digest(root, names):
    """A hash of the named files and folders (every file below them, sorted)."""
    sha = hashlib.sha256()
    for name in names:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and "__pycache__" not in p.parts) if path.is_dir() else \
            [path] if path.is_file() else []
        for file in files:
            sha.update(file.relative_to(root).as_posix().encode() + b"\0")
            sha.update(file.read_bytes() + b"\0")
    return sha.hexdigest()


def _group(item):
    path = item.path.relative_to(ROOT).as_posix() if ROOT in item.path.parents \
        else ""
    return next((folder for folder in INPUTS if path.startswith(folder + "/")), None)


def _stored():
    try:
        return json.loads(STATE.read_text())
    except (OSError, ValueError):
        return {}


def _hash(folder):
    return digest(ROOT, INPUTS[folder] + COMMON)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    counts = {}
    for item in items:
        folder = _group(item)
        if folder:
            counts[folder] = counts.get(folder, 0) + 1
    config.stash[GROUPS] = {folder: {"tests": n, "passed": 0}
                            for folder, n in counts.items()}
    config.stash[UNCHANGED] = []
    if not config.getoption("changed"):
        return
    stored = _stored()
    same = {folder for folder in counts if stored.get(folder) == _hash(folder)}
    dropped = [item for item in items if _group(item) in same]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if _group(item) not in same]
        for folder in same:
            config.stash[GROUPS].pop(folder)
        config.stash[UNCHANGED] = sorted(same)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    group = item.config.stash.get(GROUPS, {}).get(_group(item))
    if group is not None and report.when == "call" and report.passed:
        group["passed"] += 1  # a failure or a skip leaves the folder unproven


def pytest_sessionfinish(session):
    """Store the inputs of every folder whose tests all ran and passed."""
    groups = session.config.stash.get(GROUPS, {})
    stored = _stored()
    for folder, counts in groups.items():
        if counts["passed"] == counts["tests"]:
            stored[folder] = _hash(folder)
    if stored:
        STATE.parent.mkdir(exist_ok=True)
        STATE.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")


def pytest_terminal_summary(terminalreporter, config):
    unchanged = config.stash.get(UNCHANGED, [])
    if unchanged:
        terminalreporter.write_line(
            "--changed: not run, their inputs are as at their last passing run: "
            + ", ".join(unchanged))
