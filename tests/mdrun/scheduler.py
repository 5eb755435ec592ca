"""Run reader paths in parallel, one forked interpreter each, and hand out results.

Every reader path of every page is a job, with a thread of its own. A job first
waits for its warm interpreter's imports, then takes a place to start: its session
is forked, isolated and connected while other paths' blocks run, so that cost
overlaps their work. Then it takes a worker (one per core), and its thread drives
the session block by block, enforcing each block's timeout and noticing a child
that dies. Places and workers go to the waiting job submitted first, which keeps
the longest-first order. Test items wait for their block's outcome.

SIGTERM and Ctrl-C end every page at once: close() stops each page's process
tree (see forkserver.py) before it waits for anything. A fork server that dies
is replaced; a block during which it died fails.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from . import isolation, warm
from .forkserver import ForkServer, ForkServerDied

START_TIMEOUT = 60
THREADS = 64  # jobs in flight at once; the places below bound the real work
NICE = 10  # pages beside other tests get about a tenth of a contended core's time


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
    filters: list = field(default_factory=list)  # (filterwarnings text, page line)


@dataclass
class Outcome:
    status: str  # passed failed xfailed xpassed skipped timeout crashed
    result: dict = field(default_factory=dict)
    reason: str = ""
    workdir: str = ""


@dataclass
class Job:
    steps: list[Step]
    page: str = ""  # the page it is a reader path of
    label: str = ""  # its tab label, "" on an untabbed page
    backend: str | None = "?"  # its warm interpreter's Keras backend ("?": not chosen)
    outcomes: dict = field(default_factory=dict)  # step name -> Outcome
    events: dict = field(default_factory=dict)
    started: bool = False
    rank: int = 0  # its place in the submission order
    started_at: float | None = None  # when it was submitted
    asked: float | None = None  # when its session was asked for
    connected: float | None = None  # when its session connected
    began: float | None = None  # when a worker took it up
    ready: float | None = None  # when its session started its first block
    ended: float | None = None  # when its last block was settled

    @property
    def seconds(self):
        """Its wall time on a worker, from being taken up to its last block."""
        return None if self.began is None or self.ended is None \
            else self.ended - self.began

    @property
    def startup(self):
        """Its session's start: fork, isolation and connection (mostly while
        other paths ran), then from being taken up to its first block."""
        if None in (self.asked, self.connected, self.began, self.ready):
            return None
        return (self.connected - self.asked) + (self.ready - self.began)

    def __post_init__(self):
        self.events = {s.name: threading.Event() for s in self.steps}

    def settle(self, step, outcome):
        self.outcomes[step.name] = outcome
        if len(self.outcomes) == len(self.steps):
            self.ended = time.monotonic()
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


def _read_text(path):
    try:
        with open(path, "rb") as captured:
            return captured.read().decode(errors="replace")
    except OSError:
        return ""


def _dump(log, step, base=None, index=None):
    """A result holding the block's captured output, the session's log tail (a
    faulthandler dump) and the page line that dump points at."""
    text = _tail(log)
    result = {"log": text, "line": _last_page_line(text, step.block.page)}
    if base is not None and index is not None:
        for stream, suffix in (("stdout", "out"), ("stderr", "err")):
            result[stream] = _read_text(os.path.join(base, "captured",
                                                     f"{index}.{suffix}"))
    result["stderr"] = (result.get("stderr", "") + text).strip("\n")
    return result


def _read_status(path):
    """The exit status in a supervisor's status file, or None if not written."""
    try:
        with open(path) as status:
            return json.load(status)["status"]
    except (OSError, ValueError):
        return None


def _peer_pid(sock):
    """The pid, as this process sees it, of the process at the socket's far end."""
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                struct.calcsize("3i"))
        return struct.unpack("3i", creds)[0]
    except OSError:
        return None


SCRATCH_FREE = 2 ** 30  # /dev/shm must have this much room to hold working folders


def _scratch(folder="/dev/shm"):
    """Where pages' working folders go: TMPDIR if the user set it, else /dev/shm
    where it is a writable folder with a GiB free (in memory: a page creates and
    deletes many small files, several times cheaper there than on a disk's file
    system; a container's is often 64 MB), else the system's temporary folder."""
    if "TMPDIR" in os.environ or not os.path.isdir(folder) or \
            not os.access(folder, os.W_OK | os.X_OK):
        return None
    room = os.statvfs(folder)
    return folder if room.f_bavail * room.f_frsize >= SCRATCH_FREE else None


class Interrupted(Exception):
    """The run was interrupted while a job waited for a place."""


class _Places:
    """A fixed number of places, each given to the waiting job of lowest rank
    among those that are ready (whose warm interpreter has done its imports)."""

    def __init__(self, count):
        self._free, self._waiting, self._closed = count, {}, False  # rank -> ready()
        self._changed = threading.Condition()

    def _next_rank(self):
        return min((rank for rank, ready in self._waiting.items() if ready()),
                   default=None)

    def take(self, rank, ready=lambda: True):
        with self._changed:
            self._waiting[rank] = ready
            while not (self._closed or (self._free and self._next_rank() == rank)):
                self._changed.wait(timeout=1.0)  # also sees readiness not poked
            del self._waiting[rank]
            if self._closed:
                self._changed.notify_all()
                raise Interrupted
            self._free -= 1
            self._changed.notify_all()  # the next rank may take a place still free

    def give_back(self):
        with self._changed:
            self._free += 1
            self._changed.notify_all()

    def poke(self):
        """A job became ready: let the waiting jobs look again."""
        with self._changed:
            self._changed.notify_all()

    def close(self):
        """Wake every waiting job with Interrupted, and give no more places."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


@dataclass
class _Page:
    """A running page: its supervisor's pid, its server and its files."""

    pid: int
    server: ForkServer
    base: str
    session: int | None = None


class Scheduler:
    def __init__(self, repo, workers, preload=()):
        self.repo, self.workers = str(repo), max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=THREADS)
        # A session starts while others run: as many as there are workers.
        self._starting, self._running = _Places(self.workers), _Places(self.workers)
        self._submitted = 0
        self._servers = {}  # Keras backend (None: no Keras) -> its ForkServer
        self._needed = None  # backend -> modules its paths import; None: all
        self._background = False  # pages at a lower CPU priority than the tests
        self._first = None  # the server the Keras servers start after, if any
        self.cold = []  # (path's test id, why it could not start warm)
        self.warm = {}  # Keras backend (None: no Keras) -> the modules it preloaded
        self._lock = threading.Lock()
        self._preload = preload
        self._tmp = tempfile.mkdtemp(prefix="mdrun-", dir=_scratch())
        self._pages = {}  # supervisor pid -> _Page, while it runs
        self._closing = False
        self.isolation = Counter()  # mode -> pages run in it
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
            except ValueError:
                pass

    def _on_sigterm(self, signum, frame):
        """SIGTERM: end every page now, then let pytest stop as on Ctrl-C."""
        self.interrupt()
        if callable(self._previous):
            self._previous(signum, frame)
        raise KeyboardInterrupt("SIGTERM")

    def interrupt(self):
        """Stop every running page at once, and start no more."""
        self._closing = True
        self._starting.close()
        self._running.close()
        with self._lock:
            pages = list(self._pages.values())
        for page in pages:
            self._stop(page)

    @staticmethod
    def _stop(page):
        """Ask the page's supervisor to end the page's whole process tree."""
        if not page.server.ended(page.pid):
            try:
                os.kill(page.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def plan(self, jobs, background=False):
        """Before the run: choose each path's warm interpreter, preload into each
        only the modules its paths import, and start them before the first path
        asks: the one without Keras first, when there are others. In the
        `background`, pages run at a lower priority than the other tests."""
        self._background = background
        for job in jobs:
            job.backend = self._server_for(job)
        self._needed = {backend: warm.imported(
            s.block.source() for job in jobs if job.backend == backend
            for s in job.steps) for backend in {job.backend for job in jobs}}
        backends = list(dict.fromkeys(job.backend for job in jobs))
        if None in backends and len(backends) > 1:
            # The server without Keras imports quickest: its paths start first,
            # and the Keras servers import after it, not beside it, slowing it.
            self._first = self._fork_server(None)
            return
        for backend in backends:
            self._fork_server(backend)

    def _modules(self, backend):
        """What the server for `backend` imports: the preload modules its paths
        import, Keras and TensorFlow only into a server with a backend."""
        keras = [name for name in self._preload if name.split(".")[0] in warm.KERAS]
        needed = None if self._needed is None else self._needed.get(backend, set())
        chosen = [name for name in self._preload if needed is None
                  or name.split(".")[0] in needed]
        if backend is None:
            return [name for name in chosen if name not in keras]
        chosen = [name for name in self._preload if name in chosen or name in keras]
        if "tensorflow" in chosen and backend != "tensorflow":
            chosen.remove("tensorflow")  # Keras on another backend needs no TF
        return chosen

    def _server_for(self, job):
        """The backend of the warm server `job` forks from (None: no Keras)."""
        if not any(name.split(".")[0] in warm.KERAS for name in self._preload):
            return None
        backend, why = warm.choose([s.block.source() for s in job.steps
                                    if s.skip is None])
        if why:
            self.cold.append((job.steps[0].name.split("::")[0] + (
                f" [{job.label}]" if job.label else ""), why))
        return backend

    def _fork(self, job, request):
        """(server, supervisor pid) for the job: from its warm server, replaced
        once if it died; a path whose warm server keeps dying runs cold."""
        for attempt in range(2):
            try:
                server = self._fork_server(job.backend)
                return server, server.fork(request)
            except ForkServerDied:
                if attempt and job.backend is not None:
                    self.cold.append((job.steps[0].name.split("::")[0], (
                        f"the warm interpreter for Keras on {job.backend} died twice")))
        server = self._fork_server(None)
        return server, server.fork(request)

    def _fork_server(self, backend=None):
        if backend is not None and self._first is not None:
            self._first.mode()  # started by plan(): ready, dead, or a minute passed
        with self._lock:
            server = self._servers.get(backend)
            if server is not None and server.dead:
                server.close()  # a block killed it, or it crashed: replace it
                server = None
            if server is None:
                # Pages run side by side, so each gets its share of the cores
                # rather than every library's thread pool oversubscribing them:
                # OpenMP (NumPy's BLAS, PyTorch) and TensorFlow's two pools. This
                # is the runner's job, so pages need no thread settings of their own.
                threads = str(max(1, (os.cpu_count() or 1) // self.workers))
                shares = {name: threads for name in (
                    "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")}
                env = {**shares, **os.environ, "MPLBACKEND": "Agg",
                       "PYTHONDONTWRITEBYTECODE": "1"}
                if backend is not None:
                    env["MDRUN_KERAS_BACKEND"] = backend
                if self._background:
                    env["MDRUN_NICE"] = str(NICE)
                modules = self.warm[backend] = self._modules(backend)
                server = self._servers[backend] = ForkServer(
                    modules, env, on_change=self._starting.poke)
            return server

    def submit(self, job):
        """Start `job` on the pool, once."""
        with self._lock:
            if job.started:
                return
            job.started = True
            job.started_at = time.monotonic()
            job.rank, self._submitted = self._submitted, self._submitted + 1
        self._pool.submit(self._run_guarded, job)

    def outcome(self, job, step):
        """Wait for and return the Outcome of `step`."""
        self.submit(job)
        job.events[step.name].wait()
        return job.outcomes[step.name]

    def close(self):
        """Stop every page still running, then clean up (also after Ctrl-C)."""
        self.interrupt()
        for server in list(self._servers.values()):
            server.kill()  # also wakes a page waiting for the server to fork
        self._pool.shutdown(wait=True, cancel_futures=True)
        for server in list(self._servers.values()):
            server.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
        if self._previous is not None and signal.getsignal(
                signal.SIGTERM) == self._on_sigterm:
            try:
                signal.signal(signal.SIGTERM, self._previous)
            except ValueError:
                pass

    def _run_guarded(self, job):
        try:
            self._run(job)
        except Interrupted:
            self._skip_rest(job, [s for s in job.steps if s.name not in job.outcomes],
                            "the run was interrupted")
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
        if not runnable or self._closing:
            self._skip_rest(job, runnable, "the run was interrupted")
            return
        if job.backend == "?":
            job.backend = self._server_for(job)
        # Waiting for a warm interpreter's imports holds no place: other paths run.
        server = self._fork_server(job.backend)
        self._starting.take(job.rank, ready=server.ready)
        starting = [True]  # holds a place to start until it takes a worker

        def on_worker():
            self._running.take(job.rank)
            self._starting.give_back()
            starting[0] = False
            job.began = time.monotonic()

        try:
            self._session(job, runnable, on_worker)
        finally:
            if starting[0]:
                self._starting.give_back()
            else:
                self._running.give_back()

    def _session(self, job, runnable, on_worker):
        """Fork and connect the job's session; once `on_worker` returns, drive it."""
        base = tempfile.mkdtemp(dir=self._tmp)
        workdir = os.path.join(base, "work")
        os.mkdir(workdir)
        address, log = os.path.join(base, "s"), os.path.join(base, "log")
        status = os.path.join(base, "status")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(address)
        listener.listen(1)
        listener.settimeout(0.2)
        request = {"socket": address, "log": log, "status": status,
                   "repo": self.repo, "base": base}
        job.asked = time.monotonic()
        server, pid = self._fork(job, request)
        page = _Page(pid, server, base)
        with self._lock:
            self._pages[pid] = page
        if self._closing:
            self._stop(page)
        pending = list(runnable)
        try:
            try:
                sock = self._accept(listener, page)
                page.session = _peer_pid(sock)
                conn = Connection(sock.detach())
            except (TimeoutError, OSError):
                conn = None
            finally:
                listener.close()
            if conn is None:
                raise EOFError
            job.connected = time.monotonic()
            on_worker()
            self.isolation[server.mode() or "unknown"] += 1
            server_alive = not server.dying()  # before any block can run
            conn.send({"workdir": workdir, "repo": self.repo,
                       "blocks": [{"page": s.block.page, "source": s.block.source(),
                                   "gates": s.gates, "filters": s.filters,
                                   "solution": s.block.solution}
                                  for s in runnable]})
            self._drive(job, conn, pending, workdir, page, log, server_alive)
        except EOFError:
            if pending:
                step = pending.pop(0)
                if self._closing:
                    reason = "the run was interrupted while this block ran"
                else:
                    code = self._exit_status(page, status)
                    reason = f"{_describe_exit(code)} while running this block"
                index = len(runnable) - len(pending) - 1
                job.settle(step, Outcome(
                    "crashed", workdir=workdir, reason=reason,
                    result=_dump(log, step, base, index)))
                self._skip_rest(job, pending, f"{step.name} crashed")
        finally:
            self._stop(page)
            with self._lock:
                self._pages.pop(pid, None)

    def _accept(self, listener, page):
        """The session's connection; gives up when the run is interrupted or the
        page's supervisor has ended."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not self._closing:
            try:
                return listener.accept()[0]
            except TimeoutError:
                if page.server.ended(page.pid):
                    break
        raise TimeoutError

    @staticmethod
    def _exit_status(page, path, timeout=10):
        """The session's exit status: from its status file, else from the server.

        The supervisor writes the file before it ends. A page started ahead may
        outlive a server that died meanwhile: then only the file can tell."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = _read_status(path)
            if code is not None:
                return code
            if page.server.ended(page.pid):
                code = _read_status(path)
                return code if code is not None else page.server.status(page.pid, 0)
            if page.server.dead and isolation.dying(page.pid):
                return _read_status(path)
            time.sleep(0.01)
        return None

    def _drive(self, job, conn, pending, workdir, page, log, server_alive):
        """Settle each block as its result arrives. `server_alive`: whether the fork
        server lived before the coming block (checked again after each one)."""
        current = None
        while pending:
            timeout = pending[0].timeout if current is not None else START_TIMEOUT
            if not conn.poll(timeout):
                step = pending.pop(0)
                if page.session:  # faulthandler: where is it stuck?
                    try:
                        os.kill(page.session, signal.SIGUSR1)
                    except ProcessLookupError:
                        pass
                    time.sleep(0.5)
                job.settle(step, Outcome(
                    "timeout", _dump(log, step, page.base, current), workdir=workdir,
                    reason=(
                        f"the block did not finish within its timeout of "
                        f"{step.timeout:g} s and was stopped; raise it with "
                        "<!--pytest.mark.timeout(N)-->")))
                self._skip_rest(job, pending, f"{step.name} timed out")
                return
            message = conn.recv()
            if message[0] == "start":
                current = message[1]
                job.ready = job.ready or time.monotonic()
            elif message[0] == "done":
                step = pending.pop(0)
                result = message[2]
                was_alive, server_alive = server_alive, not page.server.dying()
                if was_alive and not server_alive:
                    result["status"] = "failed"
                    result["error"] = None
                    result["line"] = None
                    job.settle(step, Outcome(
                        "crashed", result, workdir=workdir, reason=(
                            "the runner's fork server died while this block ran: "
                            "a block must not signal the runner's processes")))
                    self._skip_rest(job, pending, f"{step.name} failed")
                    return
                job.settle(step, Outcome(result["status"], result, workdir=workdir))
                current = None
                if result["status"] == "failed" and not step.block.solution:
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
