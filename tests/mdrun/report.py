"""Say what happened: a failure that points into the Markdown, and the run's summary."""

import re
from collections import Counter
from dataclasses import dataclass, field


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


def mismatch(block, actual):
    """The report of a block whose printed output differs from the page's."""
    return "\n".join([
        f"{block.output.page}:{block.output.line}: the output differs from the "
        f"expected output of the block at line {block.line}",
        "--- expected (on the page) ---", block.output.code.rstrip(),
        "--- actual (this run) ---", actual.rstrip(),
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
    paths: int = 0
    counts: Counter = field(default_factory=Counter)
    outputs: int = 0
    not_run: list = field(default_factory=list)  # (test id, status, reason)
    block_seconds: float = 0.0  # the blocks' own run time, summed
    started: float | None = None  # when the first reader path started
    finished: float | None = None  # when the last block's outcome arrived
    workers: int = 1

    def add_page(self, page, blocks, paths):
        self.pages.add(page)
        self.blocks.update((page, b.line) for b in blocks)
        self.paths += paths

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
            timing = [f"time: blocks ran {self.block_seconds:.1f} s in all; wall "
                      f"{wall:.1f} s on {self.workers} workers; overhead ratio "
                      f"{wall / ideal if ideal else float('nan'):.2f} "
                      "(wall / (block time / workers))"]
        return [head] + timing + (["blocks not executed:"] + rows if rows else [])
