"""Run reader paths in parallel, one forked interpreter each, and hand out results.

Every reader path of every page is a job. Jobs run on a pool of threads, one per
core; each thread drives one child process block by block, enforcing each block's
timeout and noticing a child that dies. Test items wait for their block's outcome.
"""

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from .forkserver import ForkServer

START_TIMEOUT = 60


@dataclass
class Step:
    """One Python block of a reader path, with what its directives decided."""

    block: object
    name: str  # the test id, e.g. docs/page.md::L42[PyTorch]
    timeout: float
    skip: str | None = None
    xfail: str | None = None  # the raises= expression ("" for any), or None
    strict: bool = False
    gates: list = field(default_factory=list)  # directives.gates(), decided in session


@dataclass
class Outcome:
    status: str  # passed failed xfailed xpassed skipped timeout crashed
    result: dict = field(default_factory=dict)
    reason: str = ""
    workdir: str = ""


@dataclass
class Job:
    steps: list[Step]
    outcomes: dict = field(default_factory=dict)  # step name -> Outcome
    events: dict = field(default_factory=dict)
    started: bool = False
    started_at: float | None = None

    def __post_init__(self):
        self.events = {s.name: threading.Event() for s in self.steps}

    def settle(self, step, outcome):
        self.outcomes[step.name] = outcome
        self.events[step.name].set()


def _describe_exit(code):
    if code is None:
        return "the interpreter ended without an exit status"
    if code < 0:
        try:
            return f"the interpreter was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"the interpreter was killed by signal {-code}"
    return f"the interpreter exited with code {code}"


def _last_page_line(dump, page):
    """The last line of `page` in a faulthandler dump, or None."""
    lines = re.findall(rf'File "{re.escape(page)}", line (\d+)', dump)
    return int(lines[0]) if lines else None


def _tail(path, size=3000):
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - size))
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def _dump(log, step):
    """A result holding the session's log tail and the page line it points at."""
    text = _tail(log)
    return {"stderr": text, "line": _last_page_line(text, step.block.page)}


class Scheduler:
    def __init__(self, repo, workers, preload=()):
        self.repo, self.workers = str(repo), max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers)
        self._server = None
        self._lock = threading.Lock()
        self._preload = preload
        self._tmp = tempfile.mkdtemp(prefix="mdrun-")

    def _fork_server(self):
        with self._lock:
            if self._server is None:
                # Pages run side by side, so each gets its share of the cores
                # rather than every library's thread pool oversubscribing them.
                threads = str(max(1, (os.cpu_count() or 1) // self.workers))
                env = {"OMP_NUM_THREADS": threads, **os.environ, "MPLBACKEND": "Agg",
                       "PYTHONDONTWRITEBYTECODE": "1"}
                self._server = ForkServer(self._preload, env)
            return self._server

    def submit(self, job):
        """Start `job` on the pool, once."""
        with self._lock:
            if job.started:
                return
            job.started = True
            job.started_at = time.monotonic()
        self._pool.submit(self._run_guarded, job)

    def outcome(self, job, step):
        """Wait for and return the Outcome of `step`."""
        self.submit(job)
        job.events[step.name].wait()
        return job.outcomes[step.name]

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._server is not None:
            self._server.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _run_guarded(self, job):
        try:
            self._run(job)
        except BaseException as error:  # noqa: BLE001 - never leave items waiting
            for step in job.steps:
                if step.name not in job.outcomes:
                    job.settle(step, Outcome(
                        "crashed", reason=f"runner error: {error!r}"))

    def _run(self, job):
        runnable = []
        for step in job.steps:
            if step.skip is not None:
                job.settle(step, Outcome("skipped", reason=step.skip))
            else:
                runnable.append(step)
        if not runnable:
            return
        base = tempfile.mkdtemp(dir=self._tmp)
        workdir = os.path.join(base, "work")
        os.mkdir(workdir)
        address, log = os.path.join(base, "s"), os.path.join(base, "log")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(address)
        listener.listen(1)
        listener.settimeout(START_TIMEOUT)
        server = self._fork_server()
        pid = server.fork(address, log)
        pending = list(runnable)
        try:
            try:
                conn = Connection(listener.accept()[0].detach())
            except TimeoutError:
                conn = None
            finally:
                listener.close()
            if conn is None:
                raise EOFError
            conn.send({"workdir": workdir, "repo": self.repo,
                       "blocks": [{"page": s.block.page, "source": s.block.source(),
                                   "gates": s.gates} for s in runnable]})
            self._drive(job, conn, pending, workdir, pid, log)
        except EOFError:
            if pending:
                code = server.status(pid)
                step = pending.pop(0)
                job.settle(step, Outcome(
                    "crashed", workdir=workdir,
                    reason=f"{_describe_exit(code)} while running this block",
                    result=_dump(log, step)))
                self._skip_rest(job, pending, f"{step.name} crashed")
        finally:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _drive(self, job, conn, pending, workdir, pid, log):
        current = None
        while pending:
            timeout = pending[0].timeout if current is not None else START_TIMEOUT
            if not conn.poll(timeout):
                step = pending.pop(0)
                os.kill(pid, signal.SIGUSR1)  # faulthandler: where is it stuck?
                time.sleep(0.5)
                job.settle(step, Outcome("timeout", _dump(log, step), workdir=workdir,
                                         reason=(
                    f"the block did not finish within its timeout of {step.timeout:g} s"
                    " and was stopped; raise it with <!--pytest.mark.timeout(N)-->")))
                self._skip_rest(job, pending, f"{step.name} timed out")
                return
            message = conn.recv()
            if message[0] == "start":
                current = message[1]
            elif message[0] == "done":
                step = pending.pop(0)
                result = message[2]
                job.settle(step, Outcome(result["status"], result, workdir=workdir))
                current = None
                if result["status"] == "failed":
                    self._skip_rest(job, pending, f"{step.name} failed")
                    return
            else:  # "end"
                return

    @staticmethod
    def _skip_rest(job, pending, why):
        for step in pending:
            job.settle(step, Outcome(
                "skipped", reason=f"an earlier block of this reader session, {why}"))
        pending.clear()
