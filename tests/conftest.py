"""Shared fixtures for the site tests: one strict build per test session, started
in the background as soon as the tests are collected, so that it overlaps the tests
that do not need it; those run first."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from project import ROOT

# The browser and link tests' summary, and --changed for the test folders; loaded
# here so that the controller of a pytest-xdist run has them too.
pytest_plugins = ["browser_summary", "changed"]
BUILD = pytest.StashKey[dict]()  # {"process", "folder", "log"} of the running build


def _build(site):
    """The command `make build` runs, into `site`."""
    return [sys.executable, "-m", "mkdocs", "build", "--strict",
            "--site-dir", str(site)]


def _needs_site(item):
    return "built_site" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    """Tests that need the built site after the others (the runner puts the
    pages' items last of all), so the build has time to finish."""
    items.sort(key=lambda item: (not hasattr(item, "fixturenames"),
                                 _needs_site(item)))


def pytest_collection_finish(session):
    """Start `mkdocs build --strict`, as `make build` runs it, if a test needs it."""
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput") or not any(
            _needs_site(item) for item in session.items):
        return
    folder = Path(tempfile.mkdtemp(prefix="site-build-"))
    log = open(folder / "build.log", "w+")  # noqa: SIM115 - read after it ends
    process = subprocess.Popen(_build(folder / "site"), cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT)
    config.stash[BUILD] = {"process": process, "folder": folder, "log": log}


def pytest_unconfigure(config):
    build = config.stash.get(BUILD, None)
    if build is not None:
        if build["process"].poll() is None:  # interrupted before it was needed
            build["process"].kill()
            build["process"].wait()
        build["log"].close()
        shutil.rmtree(build["folder"], ignore_errors=True)


@pytest.fixture(scope="session")
def built_site(request, tmp_path_factory):
    """The site built once with `mkdocs build --strict`, as `make build` does.

    Returns the site directory. The build's log is attached to the failure.
    """
    build = request.config.stash.get(BUILD, None)
    if build is None:  # a pytest-xdist worker builds its own
        site = tmp_path_factory.mktemp("site")
        result = subprocess.run(_build(site), cwd=ROOT, capture_output=True, text=True)
        code, log = result.returncode, result.stderr
    else:
        site = build["folder"] / "site"
        code = build["process"].wait()
        build["log"].seek(0)
        log = build["log"].read()
    if code != 0:
        pytest.fail(
            "mkdocs build --strict failed (run 'make build' to see it):\n"
            + log[-6000:],
            pytrace=False,
        )
    return site
