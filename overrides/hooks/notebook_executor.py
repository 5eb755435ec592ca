"""Execute the example notebooks into a cache that the site build renders from.

The notebooks live in examples/ as jupytext percent scripts (`# %%` cells), so their
diffs are plain Python. `executed(source)` returns an executed .ipynb for a script:
from the cache when the script, the locked packages and this module are unchanged,
otherwise by running it in a fresh kernel (its own process) with a time limit. The
tests (tests/site/test_notebooks.py) and the build hook (notebook_pages.py) both call
it, so a notebook runs once per change, whichever of the two gets there first.

A failure raises NotebookError naming the cell and the line of the script, e.g.
`examples/degradation-study.py:57: cell 9 raised ValueError: ...`.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import struct
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOK_TIMEOUT = 300  # seconds per notebook, all cells together; each aims at 90 s
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")


class NotebookError(Exception):
    """A notebook failed, timed out, or is not fit to publish."""


def sources(root: Path) -> list[Path]:
    """The example scripts, in a stable order."""
    return sorted((root / "examples").glob("*.py"))


def cache_key(source: Path, root: Path) -> str:
    """Hash of everything an executed notebook depends on.

    The script itself, every installed package (requirements.lock, when the project
    has one), the Python version, and this module (it post-processes the outputs).
    """
    digest = hashlib.sha256()
    digest.update(source.read_bytes())
    lock = root / "requirements.lock"
    if lock.exists():
        digest.update(lock.read_bytes())
    digest.update(sys.version.encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:20]


def cache_path(source: Path, root: Path) -> Path:
    """Where the executed notebook for `source` is (or would be) kept."""
    source = Path(source).resolve()
    cache = root / ".cache" / "notebooks"
    return cache / cache_key(source, root) / "examples" / f"{source.stem}.ipynb"


def executed(
    source: Path,
    *,
    root: Path,
    timeout: float = NOTEBOOK_TIMEOUT,
    execute: bool = True,
) -> Path:
    """Path of the executed notebook for `source`, running it on a cache miss.

    The result is `<root>/.cache/notebooks/<key>/examples/<name>.ipynb`, which the
    build serves as examples/<name>.ipynb. A lock per notebook makes a second caller
    (a parallel test, or the build) wait for the first and then use its result. With
    `execute=False`, a miss raises NotebookError instead.
    """
    source = Path(source).resolve()
    cache = root / ".cache" / "notebooks"
    target = cache_path(source, root)
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / f"{source.stem}.lock"):
        if target.exists():
            check_publishable(read_notebook(target), source, root)
            return target
        if not execute:
            name = display_name(source, root)
            raise NotebookError(f"{name}: no executed copy in {cache}")
        nb = execute_notebook(source, root=root, timeout=timeout)
        _write_atomically(nb, target)
        for stale in cache.glob(f"*/examples/{source.stem}.ipynb"):
            if stale != target:
                stale.unlink()
                for folder in (stale.parent, stale.parent.parent):
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only if empty
    return target


def execute_notebook(
    source: Path, *, root: Path, timeout: float = NOTEBOOK_TIMEOUT
):
    """Run the script's cells in order in a fresh kernel; return the notebook."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import (
        CellExecutionError,
        CellTimeoutError,
        DeadKernelError,
    )

    source = Path(source).resolve()
    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata.pop("jupytext", None)
    env = dict(os.environ)
    # The examples train tiny models, which one thread per library runs fastest, and
    # a thread pool per library on a busy machine can stall them for minutes. As for
    # the pages, this is the executor's job, not the notebook's code.
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        env.setdefault(name, "1")
    # Figures show inline, as in Jupyter, even if the caller chose Agg.
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    with tempfile.TemporaryDirectory(prefix="notebook-") as workdir:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=False,
            record_timing=False,
            resources={"metadata": {"path": workdir}},
        )
        client.reset_execution_trackers()
        with client.setup_kernel(env=env, cwd=workdir):
            reply = client.wait_for_reply(client.kc.kernel_info())
            nb.metadata["language_info"] = reply["content"]["language_info"]
            deadline = time.monotonic() + timeout  # the kernel is up: start the clock
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                client.timeout = max(1, int(deadline - time.monotonic()))
                try:
                    client.execute_cell(
                        cell, index, execution_count=client.code_cells_executed + 1
                    )
                except CellExecutionError:
                    raise NotebookError(_describe(nb, index, source, root)) from None
                except CellTimeoutError:
                    raise NotebookError(
                        _where(nb, index, source, root, 1)
                        + f"cell {index + 1} timed out: the notebook's limit is "
                        f"{timeout:g} s\n" + _excerpt(cell.source, 1)
                    ) from None
                except DeadKernelError as exc:
                    raise NotebookError(
                        _where(nb, index, source, root, 1)
                        + f"cell {index + 1} killed the kernel: {exc}"
                    ) from None
    _describe_figures(nb, source, root)
    _drop_native_logs(nb)
    check_publishable(nb, source, root)
    return nb


def check_publishable(nb, source: Path, root: Path) -> None:
    """Refuse a notebook with an error output, an unrun cell or a figure without alt."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            raise NotebookError(_describe(nb, index, source, root))
        if cell.get("execution_count") is None and cell.source.strip():
            raise NotebookError(
                _where(nb, index, source, root, 1) + f"cell {index + 1} was never run"
            )
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}):
                if not out.get("metadata", {}).get("image/png", {}).get("alt"):
                    raise NotebookError(
                        _where(nb, index, source, root, 1)
                        + f"cell {index + 1} shows a figure without alt text; "
                        'describe it on the cell\'s marker: # %% alt="..."'
                    )


def figure_alts(nb) -> dict[str, str]:
    """Map each figure's base64 data (whitespace removed) to its alt text."""
    alts = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get("image/png")
            if data:
                alt = out.get("metadata", {}).get("image/png", {}).get("alt", "")
                alts["".join(data.split())] = alt
    return alts


# What TensorFlow's C++ core writes to stderr as it starts (abseil's and glog's
# format): start-up logs about the machine, not output of the example.
NATIVE_LOG = re.compile(
    r"^(?:WARNING: All log messages before absl::InitializeLog\(\) is called are "
    r"written to STDERR|[IWEF]\d{4} \d\d:\d\d:\S+ +\d+ \S+:\d+\] .*)\n?", re.M)


def _drop_native_logs(nb) -> None:
    """Remove native libraries' start-up log lines from stderr outputs; an output
    left empty goes. Everything Python printed or warned stays."""
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["text"] = NATIVE_LOG.sub("", out["text"])
                if not out["text"].strip():
                    continue
            kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept


def _describe_figures(nb, source: Path, root: Path) -> None:
    """Give each inline figure the alt text of its cell, and its size in pixels."""
    for cell in nb.cells:
        alt = cell.metadata.get("alt")
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get("image/png")
            if not data:
                continue
            png = base64.b64decode(data)
            width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
            meta = out.setdefault("metadata", {}).setdefault("image/png", {})
            meta.update(width=width, height=height)
            if alt:
                meta["alt"] = alt


def _describe(nb, index: int, source: Path, root: Path) -> str:
    """The message for a cell that raised: script line, cell, code and traceback."""
    cell = nb.cells[index]
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return f"{display_name(source, root)}: cell {index + 1} failed"
    error = errors[0]
    traceback = ANSI.sub("", "\n".join(error.get("traceback", [])))
    line_in_cell = 1
    for count, line in CELL_FRAME.findall(traceback):
        if str(cell.get("execution_count")) == count:
            line_in_cell = int(line)
            break
    return (
        _where(nb, index, source, root, line_in_cell)
        + f"cell {index + 1} raised {error.get('ename')}: {error.get('evalue')}\n"
        + _excerpt(cell.source, line_in_cell)
        + "\n\n"
        + traceback
    )


def _where(nb, index: int, source: Path, root: Path, line_in_cell: int) -> str:
    """`examples/x.py:LINE: ` for a line of a cell, found in the script."""
    start = _cell_start(nb, index, source)
    line = f":{start + line_in_cell - 1}" if start else ""
    return f"{display_name(source, root)}{line}: "


def _cell_start(nb, index: int, source: Path) -> int | None:
    """1-based line of the script where cell `index` starts, or None."""
    lines = source.read_text(encoding="utf-8").splitlines()
    markers = [n for n, text in enumerate(lines) if text.startswith("# %%")]
    if len(markers) != len(nb.cells):
        return None
    first = nb.cells[index].source.splitlines()[:1]
    for n in range(markers[index] + 1, len(lines)):
        if not first or lines[n] == first[0]:
            return n + 1
    return None


def _excerpt(code: str, line_in_cell: int) -> str:
    """The cell's code with an arrow at the failing line."""
    return "\n".join(
        f"{'-->' if n == line_in_cell else '   '} {text}"
        for n, text in enumerate(code.splitlines(), start=1)
    )


def display_name(source: Path, root: Path) -> str:
    """The script's path relative to the project, as failures name it."""
    try:
        return source.relative_to(root).as_posix()
    except ValueError:
        return str(source)


def read_notebook(path: Path):
    """An executed notebook from the cache."""
    import nbformat

    return nbformat.read(path, as_version=4)


def _write_atomically(nb, target: Path) -> None:
    import nbformat

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    nbformat.write(nb, partial)
    partial.replace(target)


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
