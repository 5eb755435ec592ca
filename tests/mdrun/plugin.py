"""The pytest plugin: collect Markdown pages, run their blocks, report by page line.

Every Markdown page under docs/, README.md, and any Markdown file named on the
command line is collected. Each fenced block becomes one test item named by page
and line (`docs/pytorch.md::L42`, with the tab label on tabbed pages).
"""

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from . import directives, outputs, report, results, shard
from .markdown import MarkdownError, parse
from .scheduler import Job, Scheduler, Step

DEFAULT_TIMEOUT = 300.0
TALLY = pytest.StashKey[report.Tally]()
SCHEDULER = pytest.StashKey[Scheduler]()
UPDATES = pytest.StashKey[dict]()
RESULTS = pytest.StashKey[dict]()
FILTERS = pytest.StashKey[dict]()  # (page file, block line) -> [runs, unused filters]
LOCK = pytest.StashKey[str | None]()
BEGUN = pytest.StashKey[set]()
PRINTED = pytest.StashKey[dict]()  # (page, output line) -> {stdout: step name}
CONFLICTS = pytest.StashKey[set]()  # (page, output line) never to update
REFUSED = pytest.StashKey[list]()  # why an update was not written
SHARD = pytest.StashKey[tuple | None]()  # (K, N) of --shard K/N


def pytest_addoption(parser):
    group = parser.getgroup("mdrun", "code blocks in Markdown pages")
    group.addoption("--update-outputs", action="store_true",
                    help="rewrite expected-output fences (and media/ figures) "
                         "from this run instead of comparing")
    group.addoption("--changed", action="store_true",
                    help="run only the pages whose text, or requirements.lock, "
                         "changed since their record (and update their records)")
    group.addoption("--shard", default=None, metavar="K/N",
                    help="run shard K of N: pages (with all their reader paths) and "
                         "test files dealt out by their recorded times")
    group.addoption("--codeblocks-timings", default=None, metavar="FILE",
                    help="write each reader path's start-up, block and wall times "
                         "to FILE as JSON (make bench reads it); give it as "
                         "--codeblocks-timings=FILE, or pytest may take FILE for "
                         "a path to test")
    group.addoption("--codeblocks-workers", type=int, default=None,
                    help="reader paths run at once (default: number of cores)")
    parser.addini("codeblocks_timeout", "default timeout of one block, in seconds",
                  default=str(DEFAULT_TIMEOUT))
    parser.addini("codeblocks_require_record", "under CI=true, a page whose text or "
                  "lock differs from its committed record is a collection error",
                  type="bool", default=False)
    parser.addini("codeblocks_preload", "modules the fork server imports once",
                  type="linelist", default=[])


def pytest_configure(config):
    config.stash[TALLY] = report.Tally()
    config.stash[UPDATES] = {}
    config.stash[PRINTED], config.stash[CONFLICTS] = {}, set()
    config.stash[REFUSED] = []
    try:
        value = config.getoption("shard")
        config.stash[SHARD] = shard.parse(value) if value is not None else None
    except shard.ShardError as error:
        raise pytest.UsageError(str(error)) from None
    try:
        config.stash[RESULTS] = results.load(config.rootpath)
    except results.RecordError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[LOCK] = results.lock_hash(config.rootpath)
    config.stash[BEGUN] = set()
    config.stash[FILTERS] = {}
    workers = config.getoption("codeblocks_workers") or os.cpu_count() or 1
    if hasattr(config, "workerinput"):  # under xdist, share the cores
        workers = max(1, workers // int(config.workerinput["workercount"]))
    config.stash[TALLY].workers = workers
    config.stash[SCHEDULER] = Scheduler(
        config.rootpath, workers, config.getini("codeblocks_preload"))
    config.stash[TALLY].isolation = config.stash[SCHEDULER].isolation


def pytest_unconfigure(config):
    if SCHEDULER in config.stash:
        config.stash[SCHEDULER].close()


def pytest_collect_file(file_path, parent):
    if file_path.suffix != ".md":
        return None
    root = parent.config.rootpath
    if (parent.session.isinitpath(file_path) or file_path == root / "README.md"
            or (root / "docs") in file_path.parents):
        return MarkdownFile.from_parent(parent, path=file_path)
    return None


class MarkdownFile(pytest.File):
    def collect(self):
        self.page = page = self.path.relative_to(self.config.rootpath).as_posix() \
            if self.config.rootpath in self.path.parents else str(self.path)
        self.text = self.path.read_text(encoding="utf-8")
        try:
            parsed = parse(self.text, page, base=self.config.rootpath)
            self._check_record(page)
        except MarkdownError as error:
            raise self.CollectError(str(error)) from None
        paths = parsed.reader_paths()
        self.jobs = {}  # reader path's label ("" untabbed) -> its Job
        self.blocks, self.paths = len(parsed.blocks), max(1, len(paths))
        self.config.stash[TALLY].add_page(page, parsed.blocks, len(paths))
        if parsed.skipfile:
            self.total = len(parsed.blocks)
            reason = f"skipfile directive at {page}:{parsed.skipfile.line}"
            for block in parsed.blocks:
                yield CheckItem.from_parent(self, name=f"L{block.line}", block=block,
                                            skip=reason)
            return
        self._check_directives(parsed.blocks)
        items = []
        runs = Counter(id(block) for _, blocks in paths for block in blocks)
        for order, (label, blocks) in enumerate(paths):
            suffix = f"[{label}]" if label is not None else ""
            steps = [self._step(block, f"{page}::L{block.line}{suffix}")
                     for block in blocks]
            job = self.jobs[label or ""] = Job(steps, page=page, label=label or "")
            chain = []  # the steps a cont block continues, as pytest-codeblocks
            for step in steps:
                chain = chain + [step] if step.block.directive("cont") else [step]
                if len(chain) > 1:
                    _continue(chain)
                items.append(((order, step.block.line), CodeItem.from_parent(
                    self, name=f"L{step.block.line}{suffix}", job=job, step=step,
                    chain=[s.name for s in chain[:-1]],
                    paths=runs[id(step.block)])))
        for block in parsed.blocks:
            if block.kind != "python":
                items.append(((0, block.line), CheckItem.from_parent(
                    self, name=f"L{block.line}", block=block,
                    skip=directives.skip_reason(block.directives, block.page))))
        self.total = len(items)
        yield from (item for _, item in sorted(items, key=lambda pair: pair[0]))

    def _check_record(self, page):
        """Under CI, refuse a page that was committed without its verification."""
        required = self.config.getini("codeblocks_require_record")
        if not (os.environ.get("CI") and required):
            return
        record = self.config.stash[RESULTS].get(page)
        why = results.stale(record, self.text, self.config.stash[LOCK])
        if why:
            raise self.CollectError(
                f"{page}:1: {why}, so {results.RECORD} does not verify it. Run "
                f"'make test' (or '.venv/bin/pytest {page}') and commit "
                f"{results.RECORD} with the page.")

    def _check_directives(self, blocks):
        """Directives that are each fine but wrong together, or on the wrong block."""
        python = False
        for block in blocks:
            try:
                directives.check_together(block.directives)
            except directives.DirectiveError as error:
                raise self.CollectError(f"{block.page}:{error.line}: {error}") from None
            for directive in block.directives:
                where = f"{block.page}:{directive.line}"
                if block.kind != "python" and directive.short in ("xfail", "timeout",
                                                                  "cont"):
                    raise self.CollectError(
                        f"{where}: {directive.name} applies only to python blocks")
                if directive.short == "cont" and not python:
                    raise self.CollectError(
                        f"{where}: {directive.name} must follow a python block, "
                        "whose session this block continues")
            python = python or block.kind == "python"

    def _step(self, block, name):
        xfail = block.directive("xfail")
        timeout = block.directive("timeout")
        default = float(self.config.getini("codeblocks_timeout"))
        return Step(block, name, timeout.seconds if timeout else default,
                    skip=directives.skip_reason(block.directives, block.page),
                    xfail=None if xfail is None else xfail.kwargs.get("raises", ""),
                    strict=bool(xfail and xfail.literal("strict", False)),
                    gates=directives.gates(block.directives),
                    filters=[(directives.literal(arg), d.line) for d in block.directives
                             if d.short == "filterwarnings" for arg in d.args])


def _continue(chain):
    """A pytest-codeblocks:cont block is part of the block it continues: that
    block's skip, skipif and importorskip apply to it too."""
    head, step = chain[-2], chain[-1]
    if head.skip is not None and step.skip is None:
        step.skip = f"continues the block at line {head.block.line}: {head.skip}"
    step.gates = [g for g in head.gates if g[0] != "xfail"] + step.gates


class BlockFailed(Exception):
    """A block failed; the message is the whole report."""


class MarkdownItem(pytest.Item):
    def reportinfo(self):
        return self.path, self.block.line - 1, self.name

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(BlockFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class CodeItem(MarkdownItem):
    """A Python block, run as a step of its reader path."""

    def __init__(self, *, job, step, chain=(), paths=1, **kwargs):
        super().__init__(**kwargs)
        self.job, self.step, self.block = job, step, step.block
        self.chain = list(chain)  # names of the steps this cont block continues
        self.paths = paths  # how many reader paths run this block

    def runtest(self):
        self.outcome = outcome = self.config.stash[SCHEDULER].outcome(self.job,
                                                                      self.step)
        tally = self.config.stash[TALLY]
        tally.block_seconds += outcome.result.get("duration", 0.0)
        # Its path's end: reported late when other tests ran first, or now.
        tally.finished = max(tally.finished or 0.0, self.job.ended or time.monotonic())
        tally.started = min(tally.started or self.job.started_at, self.job.started_at)
        status = outcome.status
        if status == "skipped":
            pytest.skip(outcome.reason or outcome.result.get("reason", ""))
        if status in ("failed", "timeout", "crashed"):
            raise BlockFailed(report.failure(self.block, self.step.name, outcome))
        if status == "xfailed":
            pytest.xfail(f"raised {outcome.result['error']['type']} as marked")
        if status == "xpassed" and self.step.strict:
            raise BlockFailed(f"{self.block.page}:{self.block.line}: [XPASS(strict)] "
                              "the block was marked xfail but raised nothing")
        self._check_filters(outcome.result)
        self._check_output(outcome.result)
        self._publish_figures(outcome)

    def _check_filters(self, result):
        """Fail a filterwarnings directive that matched nothing on any reader path:
        a warning one path raises (say, only the PyTorch backend's) is accepted on
        an untabbed block, but a filter no path needs any more must go."""
        if not self.step.filters:
            return
        seen = self.config.stash[FILTERS].setdefault((self.path, self.block.line),
                                                     [0, None])
        unused = {tuple(f) for f in result.get("unused_filters", [])}
        seen[0] += 1
        seen[1] = unused if seen[1] is None else seen[1] & unused
        if seen[0] == self.paths and seen[1]:
            text, line = min(seen[1], key=lambda f: f[1])
            raise BlockFailed(
                f"{self.block.page}:{line}: the filterwarnings directive {text!r} "
                f"matched no warning while this block ran, on any of its "
                f"{self.paths} reader path{'s' if self.paths > 1 else ''}; remove it")

    def _check_output(self, result):
        expected = self.block.output
        if expected is None:
            return
        self.config.stash[TALLY].outputs += 1
        # A cont block's output is its whole chain's, as in pytest-codeblocks.
        actual = "".join(self.job.outcomes[name].result.get("stdout", "")
                         for name in self.chain) + result["stdout"]
        update = self.config.getoption("update_outputs")
        name = expected.directive("expected-output").name
        measured = name.endswith("measured-output")
        if update:
            self._check_update(expected, actual, result, measured)
        if outputs.matches(expected.code, actual, measured=measured,
                           ignore_whitespace=name.endswith("-ignore-whitespace")) and \
                not (update and measured and expected.code.strip() != actual.strip()):
            return
        if update:
            self.config.stash[UPDATES].setdefault(self.path, {}).setdefault(
                expected.line, (expected, actual))
            return
        raise BlockFailed(report.mismatch(
            self.block, actual, self.config.rootpath / ".cache" / "mismatches"))

    def _check_update(self, expected, actual, result, measured):
        """Refuse an update that would lose output: two reader paths that print
        different things for one expected output (for a measured output, different
        text around the numbers), or a block that printed nothing on stdout where
        the page shows output."""
        seen = self.config.stash[PRINTED].setdefault((self.path, expected.line), {})
        seen.setdefault(outputs.masked(actual) if measured else actual, self.step.name)
        if len(seen) > 1:
            self.config.stash[CONFLICTS].add((self.path, expected.line))
            shown = "\n".join(f"--- {name} printed ---\n{text.rstrip()}"
                              for text, name in seen.items())
            raise BlockFailed(
                f"{expected.page}:{expected.line}: conflict: reader paths print "
                "different output for this one expected output, so it cannot be "
                "updated; make the block print the same on every path, or give each "
                f"tab its own block and output.\n{shown}")
        if expected.code.strip() and not actual.strip():
            stderr = result.get("stderr", "")
            raise BlockFailed(
                f"{expected.page}:{expected.line}: the block printed nothing on stdout"
                + (f" (it wrote {len(stderr)} characters to stderr)"
                   if stderr.strip() else "")
                + ", so an update would erase the expected output shown on the page; "
                "it was kept. Print the output, or delete the expected-output fence "
                "by hand if the block no longer shows any.")

    def _publish_figures(self, outcome):
        if not self.config.getoption("update_outputs"):
            return
        text = self.path.read_text(encoding="utf-8")
        media = self.config.rootpath / "media"
        for name in outcome.result.get("figures", []):
            if f"media/{name}" in text:
                media.mkdir(exist_ok=True)
                shutil.copyfile(Path(outcome.workdir) / name, media / name)


class CheckItem(MarkdownItem):
    """A block that is not Python: parsed, syntax-checked or skipped with a reason."""

    def __init__(self, *, block, skip=None, **kwargs):
        super().__init__(**kwargs)
        self.block, self.skip = block, skip

    def runtest(self):
        block = self.block
        if self.skip:
            pytest.skip(self.skip)
        gates = directives.gates(block.directives)
        if gates:
            verdict, detail = _decide_apart(gates)
            if verdict == "error":
                raise BlockFailed(f"{block.page}:{detail[0]}: {detail[1]}")
            if verdict == "skip":
                pytest.skip(detail)
        if block.kind == "display":
            pytest.skip(f"a {block.lang} block is shown to readers, not run")
        try:
            if block.kind == "shell":
                check = subprocess.run(["bash", "-n"], input=block.code, text=True,
                                       capture_output=True)
                if check.returncode:
                    raise ValueError(check.stderr.strip().replace(
                        "bash: line ", "line "))
                self.checked = "shell syntax checked with bash -n"
            else:
                _parse_data(block)
                self.checked = f"{block.lang} parsed"
        except Exception as error:  # noqa: BLE001 - any parse error is the report
            raise BlockFailed(f"{block.page}:{block.line}: this {block.lang} block "
                              f"does not parse: {error}") from None


DECIDE = """
import json, sys
from mdrun.directives import DirectiveError, decide
try:
    print(json.dumps(decide([tuple(g) for g in json.load(sys.stdin)])))
except DirectiveError as error:
    print(json.dumps(["error", [error.line, str(error)]]))
"""


def _decide_apart(gates):
    """Decide a non-Python block's skipif and importorskip in a fresh interpreter,
    as the page's code would be, never in this process."""
    done = subprocess.run([sys.executable, "-c", DECIDE], input=json.dumps(gates),
                          text=True, capture_output=True, check=True)
    return json.loads(done.stdout)


def _parse_data(block):
    if block.lang == "json":
        json.loads(block.code)
    elif block.lang == "toml":
        tomllib.loads(block.code)
    else:
        import yaml

        yaml.safe_load(block.code)


def _unit(item):
    """What --shard keeps together: a page, or a test file."""
    if isinstance(item, MarkdownItem):
        return ("page", item.parent.page)
    return ("file", item.path.as_posix())


def _deselect(config, items, keep):
    """Keep the items `keep` says to; report the others as deselected, and drop
    pages left with no item from the summary."""
    dropped = [item for item in items if not keep(item)]
    if not dropped:
        return
    config.hook.pytest_deselected(items=dropped)
    items[:] = [item for item in items if keep(item)]
    left = {item.parent.page for item in items if isinstance(item, MarkdownItem)}
    for page in {item.parent.page for item in dropped
                 if isinstance(item, MarkdownItem)} - left:
        config.stash[TALLY].drop_page(page)


def _current(config, page):
    """True if the page's record covers its text and the lock as they are."""
    record = config.stash[RESULTS].get(page.page)
    return results.stale(record, page.text, config.stash[LOCK]) is None


def pytest_collection_modifyitems(config, items):
    """--changed: keep only pages changed since their record. --shard K/N: keep
    the items of the pages and test files dealt to shard K. Then the pages' items
    go last: their paths run in the background from the start of the run, while
    pytest runs the other tests, and their outcomes are reported at the end."""
    if config.getoption("changed"):
        _deselect(config, items, lambda item: not isinstance(item, MarkdownItem)
                  or not _current(config, item.parent))
    if config.stash[SHARD] is not None:
        _keep_shard(config, items)
    items.sort(key=lambda item: isinstance(item, MarkdownItem))  # stable


def _keep_shard(config, items):
    k, n = config.stash[SHARD]
    records = config.stash[RESULTS]
    units = list(dict.fromkeys(_unit(item) for item in items))
    pages = {name: results.seconds(records.get(name)) for kind, name in units
             if kind == "page"}
    files = Counter(_unit(item)[1] for item in items if _unit(item)[0] == "file")
    chosen = {("page", name) for name in shard.deal(pages, n)[k - 1]} | {
        ("file", name) for name in shard.deal(dict(files), n)[k - 1]}
    _deselect(config, items, lambda item: _unit(item) in chosen)
    config.stash[TALLY].shard = (k, n, sum(1 for kind, _ in chosen if kind == "page"),
                                 len(pages))


def _longest_first(jobs, records):
    """Reader paths in the order to start them: paths without a recorded time
    first, then the longest first, ties by page, so no long path starts last."""
    def key(job):
        took = (records.get(job.page) or {}).get("seconds", {}).get(job.label)
        return (took is not None, -(took or 0.0), job.page, job.label)
    return sorted(jobs, key=key)


def pytest_runtestloop(session):
    """Start every selected reader path at once, longest first, trimmed to the
    selection."""
    if hasattr(session.config, "workerinput") or session.config.option.collectonly:
        return
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        return  # pytest stops at collection errors: start nothing
    scheduler = session.config.stash[SCHEDULER]
    selected = {}
    for item in session.items:
        if isinstance(item, CodeItem):
            selected.setdefault(id(item.job), (item.job, set()))[1].add(item.step.name)
    for job, names in selected.values():
        last = max(i for i, s in enumerate(job.steps) if s.name in names)
        job.steps = job.steps[:last + 1]
    jobs = [job for job, _ in selected.values()]
    # Beside other tests, pages yield the cores to them: those wait on each other
    # in one process, pages fill the time they leave.
    beside = sum(not isinstance(item, MarkdownItem) for item in session.items)
    session.config.stash[TALLY].beside = beside if jobs else 0
    scheduler.plan(jobs, background=bool(beside))
    for job in _longest_first(jobs, session.config.stash[RESULTS]):
        scheduler.submit(job)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not isinstance(item, MarkdownItem) or (rep.when != "call" and rep.passed):
        return
    tally = item.config.stash[TALLY]
    step = getattr(item, "step", None)
    if (rep.when == "call" and rep.passed and step is not None
            and item.outcome.status == "xpassed"):
        rep.wasxfail = "the block was marked xfail but raised nothing"
    if hasattr(rep, "wasxfail"):
        tally.record(item.nodeid, "xfailed" if rep.skipped else "xpassed")
    elif rep.skipped:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else ""
        rep.longrepr = (str(item.path), item.block.line, reason)  # the page's line
        tally.record(item.nodeid, "skipped", "skipped",
                     reason.removeprefix("Skipped: "))
    elif rep.failed:
        tally.record(item.nodeid, "failed")
    elif rep.when == "call":
        tally.record(item.nodeid, "passed", "checked" if getattr(
            item, "checked", None) else None, getattr(item, "checked", ""))
    _record_result(item, rep)


def _record_result(item, rep):
    """Count this block's outcome in its page's record (for the page stamp);
    the records are written once, when the session finishes."""
    records, begun = item.config.stash[RESULTS], item.config.stash[BEGUN]
    page = item.parent
    if page.page not in begun:
        begun.add(page.page)
        records[page.page] = results.new_record(page.text, page.total,
                                                lock=item.config.stash[LOCK],
                                                blocks=page.blocks, paths=page.paths)
    record = records[page.page]
    record["failed" if rep.failed else "skipped" if rep.skipped else "passed"] += 1
    outcome = getattr(item, "outcome", None)
    if outcome is not None:
        record["versions"].update(outcome.result.get("versions", {}))
    if record["passed"] + record["skipped"] + record["failed"] == record["total"]:
        times = {label: round(job.seconds, 1) for label, job in page.jobs.items()
                 if job.seconds is not None}
        # {} for a page with no Python. Times taken beside other tests are not
        # the page's own: the record keeps the ones it has.
        if len(times) == len(page.jobs) and not item.config.stash[TALLY].beside:
            record["seconds"] = times


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # xdist: the controller reports
        session.config.workeroutput["mdrun_tally"] = session.config.stash[
            TALLY].export()
    _write_timings(session)
    stash = session.config.stash
    records, begun = stash[RESULTS], stash[BEGUN]
    for path, updates in list(stash[UPDATES].items()):
        for line in [line for line in updates if (path, line) in stash[CONFLICTS]]:
            del updates[line]
        page = next((node.parent for node in session.items if node.path == path),
                    None)
        try:
            if updates:
                outputs.rewrite(path, list(updates.values()),
                                original=getattr(page, "text", None))
        except outputs.OutputError as error:
            stash[REFUSED].append(str(error))
            updates.clear()
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            continue
        if updates and page is not None and page.page in begun:
            # The page now shows what this run printed: the run verified it.
            records[page.page]["sha256"] = results.page_hash(
                path.read_text(encoding="utf-8"))
    if begun:
        results.save(session.config.rootpath, {page: records[page] for page in begun})


def _write_timings(session):
    """--codeblocks-timings FILE: each reader path's times, and the run's wall."""
    target = session.config.getoption("codeblocks_timings")
    if not target:
        return
    jobs = {id(item.job): item.job for item in session.items
            if isinstance(item, CodeItem)}
    ran = [job for job in jobs.values() if job.seconds is not None]
    start = min((j.started_at for j in ran), default=None)
    paths = [{"page": job.page, "label": job.label, "startup": job.startup,
              "wall": job.seconds,
              "blocks": sum(o.result.get("duration", 0.0)
                            for o in job.outcomes.values()),
              # on a worker, in seconds from the run's start
              "began": None if job.seconds is None else job.began - start,
              "ended": None if job.seconds is None else job.ended - start}
             for job in jobs.values()]
    wall = max(j.ended for j in ran) - start if ran else None
    Path(target).write_text(json.dumps({
        "workers": session.config.stash[TALLY].workers, "wall": wall,
        "paths": paths}, indent=1))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist: add a worker's tally to the controller's summary."""
    node.config.stash[TALLY].merge(getattr(node, "workeroutput", {}).get(
        "mdrun_tally"))


def pytest_terminal_summary(terminalreporter, config):
    tally = config.stash[TALLY]
    if not tally.pages:
        return
    scheduler = config.stash[SCHEDULER]
    tally.warm, tally.cold = scheduler.warm, scheduler.cold
    updates = config.stash[UPDATES]
    terminalreporter.section("code blocks")
    for line in tally.lines():
        terminalreporter.write_line(line)
    for path, changes in updates.items():
        if changes:
            terminalreporter.write_line(
                f"updated {len(changes)} expected outputs in {path}")
    for why in config.stash[REFUSED]:
        terminalreporter.write_line(f"not updated: {why}", red=True)
