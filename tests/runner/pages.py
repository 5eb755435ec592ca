"""What the runner's tests share: pages put into a pytester folder, and runs of them."""

import os
import signal
import textwrap
import time
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


def write_page(pytester, name, text):
    """Write a Markdown page, dedented, into the pytester folder; return its path."""
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def copy_page(pytester, folder, name):
    """Copy corpus/<folder>/<name> into the pytester folder byte for byte; return
    its name."""
    (pytester.path / name).write_bytes((CORPUS / folder / name).read_bytes())
    return name


def fill_page(pytester, folder, name, **values):
    """Copy a corpus page, filling its {fields} ({repo}: the pytester folder), beside
    a page-data.txt for it to read; return its name."""
    text = (CORPUS / folder / name).read_text()
    values.setdefault("repo", str(pytester.path))
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    (pytester.path / name).write_text(text)
    (pytester.path / "page-data.txt").write_text("data\n")
    return name


def run(pytester, *args):
    """pytest in the pytester folder with this runner alone: no pytest-codeblocks,
    no cache."""
    return pytester.runpytest("-p", "no:pytest_codeblocks", "-p", "no:cacheprovider",
                              *args)


def sleepers(marker):
    """Pids of processes still running `sleep <marker>`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(marker).encode() in cmdline:
            found.append(int(pid))
    return found


def leftover_sleepers(marker, wait=10):
    """The `sleep <marker>` processes still alive after `wait` seconds, killed so
    that a failing test leaves nothing behind."""
    deadline = time.monotonic() + wait
    while sleepers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = sleepers(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left
