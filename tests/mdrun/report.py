"""Say what happened: a failure that points into the Markdown, and the run's summary."""

import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field

SHOWN_LINES, SHOWN_CHARS = 40, 4000  # of each side of a mismatch


def excerpt(block, mark=None, context=None):
    """The block's code with Markdown line numbers, `>` at line `mark`."""
    rows = []
    for offset, text in enumerate(block.code.split("\n")):
        number = block.line + 1 + offset
        if context and mark and abs(number - mark) > context:
            continue
        rows.append(f"{'>' if number == mark else ' '} {number:4d} | {text}")
    return "\n".join(rows)


def failure(block, where, outcome):
    """The report of a block that failed, crashed or timed out."""
    result = outcome.result
    error = result.get("error")
    line = (error or {}).get("line") or result.get("line") or block.line
    if error:
        headline = f"{block.page}:{line}: {error['type']}: {error['message']}"
    else:
        headline = f"{block.page}:{line}: {outcome.reason}"
    parts = [headline, f"in the block at {where}:", excerpt(block, line, context=12)]
    if error:
        parts += ["", error["traceback"].rstrip()]
    for stream in ("stdout", "stderr"):
        if result.get(stream, "").strip():
            parts += ["", f"--- captured {stream} ---", result[stream].rstrip()[-4000:]]
    return "\n".join(parts)


def _shorten(text, path):
    """`text` cut to a readable size, saying where the whole of it is."""
    lines = text.rstrip().split("\n")
    shown = "\n".join(lines[:SHOWN_LINES])[:SHOWN_CHARS]
    if shown == "\n".join(lines):
        return shown
    rest = len(lines) - shown.count("\n") - 1
    return f"{shown}\n... ({rest} more lines, {len(text)} characters in all: {path})"


def mismatch(block, actual, folder=None):
    """The report of a block whose printed output differs from the page's.

    Long outputs are cut to a readable size; both texts are saved whole in a file
    under `folder` (a temporary folder by default), named in the report."""
    expected = block.output.code
    folder = str(folder or os.path.join(tempfile.gettempdir(), "mdrun-mismatches"))
    name = re.sub(r"[^\w.-]+", "_", f"{block.output.page}-L{block.output.line}")
    path = os.path.join(folder, name + ".txt")
    if len(expected) + len(actual) > SHOWN_CHARS or max(
            expected.count("\n"), actual.count("\n")) > SHOWN_LINES:
        os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as whole:
            whole.write(f"--- expected ({block.output.page}:{block.output.line}) ---"
                        f"\n{expected.rstrip()}\n--- actual (this run) ---\n"
                        f"{actual.rstrip()}\n")
    return "\n".join([
        f"{block.output.page}:{block.output.line}: the output differs from the "
        f"expected output of the block at line {block.line}",
        "--- expected (on the page) ---", _shorten(expected, path),
        "--- actual (this run) ---", _shorten(actual, path),
        "Run pytest with --update-outputs to write the actual output into the page.",
    ])


def _natural(row):
    """Sort key that puts docs/a.md::L9 before docs/a.md::L10."""
    parts = re.split(r"(\d+)", row[0])
    return [int(part) if part.isdigit() else part for part in parts]


@dataclass
class Tally:
    """Counts for the closing summary line, and the blocks that did not run."""

    blocks: set = field(default_factory=set)
    pages: set = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)
    outputs: int = 0
    not_run: list = field(default_factory=list)  # (test id, status, reason)
    block_seconds: float = 0.0  # the blocks' own run time, summed
    started: float | None = None  # when the first reader path started
    finished: float | None = None  # when the last block's outcome arrived
    workers: int = 1
    beside: int = 0  # other tests the pages ran beside, in the background
    isolation: Counter = field(default_factory=Counter)  # mode -> pages run in it
    page_paths: dict = field(default_factory=dict)  # page -> its reader paths
    shard: tuple | None = None  # (K, N, pages in shard K, pages in all)
    warm: dict = field(default_factory=dict)  # Keras backend -> preloaded modules
    cold: list = field(default_factory=list)  # (path, why it could not start warm)

    @property
    def paths(self):
        return sum(self.page_paths.values())

    def add_page(self, page, blocks, paths):
        self.pages.add(page)
        self.blocks.update((page, b.line) for b in blocks)
        self.page_paths[page] = paths

    def drop_page(self, page):
        """Forget a page another shard runs."""
        self.pages.discard(page)
        self.blocks = {(p, line) for p, line in self.blocks if p != page}
        self.page_paths.pop(page, None)

    def export(self):
        """This tally as plain data, for an xdist worker to hand to the controller."""
        return {"blocks": sorted(self.blocks), "page_paths": self.page_paths,
                "counts": dict(self.counts), "outputs": self.outputs,
                "not_run": self.not_run, "block_seconds": self.block_seconds,
                "wall": (self.finished - self.started) if self.started is not None
                and self.finished is not None else None,
                "workers": self.workers, "isolation": dict(self.isolation)}

    def merge(self, data):
        """Add a worker's exported tally to this one (the controller's)."""
        if not data:
            return
        first = not self.page_paths
        self.blocks.update(tuple(b) for b in data["blocks"])
        self.page_paths.update(data["page_paths"])
        self.pages.update(data["page_paths"])
        self.counts.update(data["counts"])
        self.outputs += data["outputs"]
        self.not_run += [tuple(row) for row in data["not_run"]]
        self.block_seconds += data["block_seconds"]
        self.isolation.update(data["isolation"])
        self.workers = data["workers"] if first else self.workers + data["workers"]
        if data["wall"] is not None:  # wall: the slowest worker's
            self.started = 0.0
            self.finished = max(self.finished or 0.0, data["wall"])

    def record(self, nodeid, outcome, status=None, reason=""):
        self.counts[outcome] += 1
        if status:
            self.not_run.append((nodeid, status, reason))

    def lines(self):
        c = self.counts
        head = (f"docs: {len(self.blocks)} blocks on {len(self.pages)} pages "
                f"({self.paths} paths): {c['passed']} passed, {self.outputs} outputs "
                f"checked, {c['skipped']} skipped, {c['failed']} failed"
                + "".join(f", {c[kind]} {kind}" for kind in ("xfailed", "xpassed")
                          if c[kind]))
        rows = [f"  {nodeid}  {status}: {reason}"
                for nodeid, status, reason in sorted(self.not_run, key=_natural)]
        timing = []
        if self.started is not None and self.finished is not None:
            wall = self.finished - self.started
            ideal = self.block_seconds / self.workers
            ratio = wall / ideal if ideal else float("nan")
            how = (f"in the background, beside {self.beside} other tests"
                   if self.beside else
                   f"overhead ratio {ratio:.2f} (wall / (block time / workers))")
            timing = [f"time: blocks ran {self.block_seconds:.1f} s in all; wall "
                      f"{wall:.1f} s on {self.workers} workers; {how}"]
        if self.shard:
            k, n, mine, pages = self.shard
            head += f" (shard {k}/{n}: {mine} of {pages} pages)"
        return [head] + timing + self._isolation() + self._warm() + (
            ["blocks not executed:"] + rows if rows else [])

    def _warm(self):
        """Which warm interpreters paths forked from, and which paths ran cold."""
        if not self.warm:
            return []
        kinds = [("Keras on " + backend if backend else "no Keras") + ": " +
                 (", ".join(modules) or "nothing")
                 for backend, modules in sorted(self.warm.items(),
                                                key=lambda item: item[0] or "")]
        lines = ["warm interpreters: " + "; ".join(kinds)]
        return lines + [f"  ran cold: {path}: {why}" for path, why in self.cold]

    def _isolation(self):
        """One line on how pages were isolated; a fallback is always said."""
        modes = {mode: n for mode, n in self.isolation.items() if n}
        if not modes:
            return []
        if set(modes) == {"namespaces"}:
            return ["isolation: namespaces (repository read-only, loopback only, "
                    "every process ends with its page)"]
        return ["isolation: " + "; ".join(
            f"{n} paths in " + (mode if mode == "namespaces" else
                                "the in-process guard only (" +
                                mode.removeprefix("audit: ") + ")")
            for mode, n in sorted(modes.items()))]
