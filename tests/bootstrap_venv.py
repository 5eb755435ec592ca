"""Create .venv and install the exact pins from pyproject.toml, once per pin set.

Runs under any python3 so it can say clearly when Python 3.11+ is missing.
The stamp file is named after a hash of the pins, so a second run installs
nothing and a changed pin triggers a reinstall. It is written only after a
successful install, so a failed install is retried on the next run.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def fail(message):
    sys.exit(f"set-up failed: {message}")


def read_pins():
    """Return every pinned requirement: the site, the libraries and the tests."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + project["optional-dependencies"]["test"]
    loose = [p for p in pins if "==" not in p]
    if loose:
        fail(f"pyproject.toml: pin these exactly with '==': {', '.join(loose)}")
    return pins


def main():
    if sys.version_info < (3, 11):  # noqa: UP036 - this check is the point
        fail(
            f"Python 3.11 or newer is needed, but {sys.executable} is "
            f"{sys.version.split()[0]}; run 'make PYTHON=python3.11 ...'"
        )
    pins = read_pins()
    digest = hashlib.sha256("\n".join(pins).encode()).hexdigest()[:16]
    stamp = VENV / f".pins-{digest}"
    if stamp.exists():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"set-up: creating .venv with Python {sys.version.split()[0]}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print(f"set-up: installing {len(pins)} pinned packages into .venv "
          "(first run takes a few minutes)", flush=True)
    for old in VENV.glob(".pins-*"):
        old.unlink()
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *pins],
        env={**os.environ, "PIP_REQUIRE_VIRTUALENV": "1"},
    )
    if result.returncode != 0:
        fail(f"pip install exited with {result.returncode}; see the pip error above")
    stamp.write_text("\n".join(pins) + "\n")
    print("set-up: done")


if __name__ == "__main__":
    main()
