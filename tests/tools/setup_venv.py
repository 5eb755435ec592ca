"""Set up .venv from requirements.lock: every package pinned, checked after install.

Runs under any python3, so it can say clearly when Python 3.11+ is missing. The lock
(made by pip-tools from pyproject.toml's direct pins: `make lock`) must agree with
pyproject.toml; a pin added without refreshing the lock fails here with the command
to run. The install is keyed on a hash of the lock and of how pyproject.toml
installs this project (not its tool settings): a second run installs nothing, but
still checks that the venv holds exactly the lock and repairs it when a package was
added, removed or changed by hand. The stamp is written only
after a successful, verified install, so a failed install is retried on the next run.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
PROJECT = "dl-field-guide"  # this project, installed editable: not in the lock
LISTED = ("import importlib.metadata as m, json; print(json.dumps("
          "[[d.metadata['Name'], d.version] for d in m.distributions()]))")


def fail(message):
    sys.exit(f"set-up failed: {message}")


def normalise(name):
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_pins():
    """{name: version} of pyproject.toml's pins: the site, the libraries, the tests."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + project["optional-dependencies"]["test"]
    loose = [p for p in pins if "==" not in p]
    if loose:
        fail(f"pyproject.toml: pin these exactly with '==': {', '.join(loose)}")
    return dict(map(normalise_pin, pins))


def normalise_pin(pin):
    name, version = pin.split("==", 1)
    return normalise(name.split("[")[0].strip()), version.strip()


def locked_pins():
    """{name: version} of every package in requirements.lock."""
    if not LOCK.is_file():
        fail("requirements.lock is missing; run 'make lock' to create it")
    lines = [line.split("#")[0].strip() for line in LOCK.read_text().splitlines()]
    return dict(normalise_pin(line) for line in lines if "==" in line)


def installed_project():
    """What pyproject.toml says about installing this project: its [project] table
    and setuptools' package layout, not the tools' settings."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [pyproject["project"], pyproject["tool"]["setuptools"]]


def lock_problems(direct, locked):
    """Why the lock does not match pyproject.toml's pins: a list of sentences."""
    problems = []
    for name, version in sorted(direct.items()):
        have = locked.get(name)
        if have is None:
            problems.append(f"{name}=={version} is not in the lock")
        elif have.split("+")[0] != version:  # 2.13.0 matches 2.13.0+cpu
            problems.append(f"{name} is {version} in pyproject.toml, {have} in lock")
    return problems


def drift(installed, locked):
    """How the venv differs from the lock: (extra, missing or changed) names."""
    extra = sorted(set(installed) - set(locked) - {PROJECT})
    changed = sorted(n for n, v in locked.items() if installed.get(n) != v)
    return extra, changed


def installed_packages(python):
    """{name: version} of what the venv holds; a name listed twice is a conflict."""
    listed = json.loads(subprocess.run([str(python), "-c", LISTED], check=True,
                                       capture_output=True, text=True).stdout)
    found = {}
    for name, version in listed:
        found[normalise(name)] = None if normalise(name) in found else version
    return found


# The two largest wheels: each is unpacked by a pip of its own, beside two pips for
# the rest. One pip installs one package at a time, so four at once take half as
# long as one.
ON_THEIR_OWN = ("torch", "tensorflow-cpu")


def _pip(python, *args):
    return [str(python), "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]


PIP_ENV = {**os.environ, "PIP_REQUIRE_VIRTUALENV": "1"}


def pip(python, *args):
    result = subprocess.run(_pip(python, *args), env=PIP_ENV)
    if result.returncode != 0:
        fail(f"pip {args[0]} exited with {result.returncode}; see the pip error above")


def install(python, locked, extra):
    if extra:
        print(f"set-up: removing packages that are not in the lock: {', '.join(extra)}")
        pip(python, "uninstall", "--yes", *extra)
    print(f"set-up: installing the {len(locked)} packages of requirements.lock "
          "into .venv (the first run takes a few minutes)", flush=True)
    pins = [f"{name}=={version}" for name, version in sorted(locked.items())]
    groups = [[pin] for pin in pins if pin.split("==")[0] in ON_THEIR_OWN]
    rest = [pin for pin in pins if pin.split("==")[0] not in ON_THEIR_OWN]
    groups += [rest[0::2], rest[1::2]]
    running = [(group, subprocess.Popen(
        _pip(python, "install", "--no-deps", "--no-compile", *group), env=PIP_ENV))
        for group in groups]
    failed = [(group, process.wait()) for group, process in running]
    for group, code in failed:
        if code != 0:
            fail(f"pip install exited with {code} installing "
                 f"{', '.join(group) if len(group) < 4 else 'the other packages'};"
                 " see the pip error above")
    pip(python, "install", "--no-deps", "--no-build-isolation", "--editable", str(ROOT))
    compile_packages(python)
    pip(python, "check")


def compile_packages(python):
    """Byte-compile the installed packages on every core; pip does it on one, a
    third of the install's time. As with pip, a file that does not compile (a
    template, a Python 2 example) is left as it is."""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([str(python), "-m", "compileall", "-qq", "-j", "0", site],
                   check=False)


def main():
    if sys.version_info < (3, 11):  # noqa: UP036 - this check is the point
        fail(
            f"Python 3.11 or newer is needed, but {sys.executable} is "
            f"{sys.version.split()[0]}; run 'make PYTHON=python3.11 ...'"
        )
    locked = locked_pins()
    problems = lock_problems(direct_pins(), locked)
    if problems:
        fail("requirements.lock does not match pyproject.toml: " + "; ".join(problems)
             + ". Run 'make lock' to refresh the lock, then commit it")
    project = json.dumps(installed_project(), sort_keys=True).encode()
    digest = hashlib.sha256(LOCK.read_bytes() + project)
    stamp = VENV / f".lock-{digest.hexdigest()[:16]}"
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"set-up: creating .venv with Python {sys.version.split()[0]}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    extra, changed = drift(installed_packages(python), locked)
    if stamp.exists() and not extra and not changed:
        return
    if stamp.exists():
        print("set-up: .venv differs from requirements.lock ("
              + ", ".join(extra + changed) + "); repairing it")
    for old in VENV.glob(".lock-*"):
        old.unlink()
    install(python, locked, extra)
    extra, changed = drift(installed_packages(python), locked)
    if extra or changed:
        fail("after installing, .venv still differs from requirements.lock: "
             + ", ".join(extra + changed))
    stamp.write_text(LOCK.read_text())
    print("set-up: done")


if __name__ == "__main__":
    main()
