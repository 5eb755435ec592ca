"""Shared fixtures for the site tests: one strict build per test session."""

import subprocess
import sys

import pytest
from project import ROOT

# The browser and link tests' summary, and --changed for the test folders; loaded
# here so that the controller of a pytest-xdist run has them too.
pytest_plugins = ["browser_summary", "changed"]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """Build the site once with `mkdocs build --strict`, as `make build` does.

    Returns the site directory. The build's log is attached to the failure.
    """
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            "mkdocs build --strict failed (run 'make build' to see it):\n"
            + result.stderr[-6000:],
            pytrace=False,
        )
    return site
