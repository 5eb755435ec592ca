"""A pre-warmed interpreter that forks one isolated session per page.

Starting Python and importing the runner costs more than most blocks, so the
runner starts this server once and forks it per page: each session is a fresh
namespace with nothing imported but the runner, a few standard-library modules
and any modules the `codeblocks_preload` setting names.

Each fork is a small tree (see isolation.py):

    server ── supervisor ── init (PID 1 of the page's namespaces) ── session
    server ── supervisor ── session                     (without namespaces)

The supervisor is what the server knows (its pid, its exit); it stops the page on
SIGTERM. The session's parent is never the server, so a block that signals its
parent ends its own page, not every page. Whichever process waits for the session
writes its exit status (returncode style: negative for a signal) to the request's
"status" file, so the runner learns it even if the server has died.

Protocol, JSON lines: the server first writes {"isolation": mode}, mode being
"namespaces" or "audit: <why namespaces are not available>". The runner writes
{"id", "socket", "log", "status", "repo", "base"} to the server's stdin; the
server answers {"id", "pid"} once it has forked, and {"pid", "status"} when a
supervisor ends.
"""

import gc
import importlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection

from . import isolation

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACES = "namespaces"


class _Stop(Exception):
    """SIGTERM reached a supervisor: stop the page."""


def _write_status(path, code):
    with open(path + ".tmp", "w") as out:
        out.write(json.dumps({"status": code}))
    os.rename(path + ".tmp", path)


def _session(request, mode, alive):
    """The page's session: its own process group, dies with its parent."""
    code = 0
    try:
        os.setsid()
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
        if select.select([alive], [], [], 0)[0]:
            os._exit(1)  # the parent ended before the line above
        os.close(alive)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(request["socket"])
        conn = Connection(sock.detach())
        from . import session

        session.run(conn, conn.recv(), {"isolation": mode, "log": request["log_fd"],
                                        "base": request["base"]})
        conn.close()
    except BaseException:  # noqa: BLE001 - report anything, then exit non-zero
        import traceback

        traceback.print_exc()
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _init(request, mode, alive):
    """PID 1 of the page's namespace: reap until the session ends, then end,
    and the kernel ends everything else the page started."""
    try:
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
        if select.select([alive], [], [], 0)[0]:
            os._exit(1)
        isolation.become_init()
        pid = os.fork()
        if pid == 0:
            _session(request, mode, alive)
        os.close(alive)
        while True:
            child, status = os.waitpid(-1, 0)
            if child == pid:
                _write_status(request["status"], os.waitstatus_to_exitcode(status))
                break
    except BaseException:  # noqa: BLE001 - report anything, then exit non-zero
        import traceback

        traceback.print_exc()
    os._exit(0)


def _supervise(request, mode):
    """Run the page below this process; on SIGTERM or its end, end all of it."""
    alive_r, alive_w = os.pipe()
    if mode != NAMESPACES:
        isolation.prctl(isolation.PR_SET_CHILD_SUBREAPER, 1)
    pid = os.fork()
    if pid == 0:
        os.close(alive_w)
        (_init if mode == NAMESPACES else _session)(request, mode, alive_r)
    os.close(alive_r)

    def stop(*_):
        raise _Stop

    signal.signal(signal.SIGTERM, stop)
    code = None
    try:
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == NAMESPACES:
        if code is None:  # init's end ends the whole namespace
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        isolation.kill_descendants()
        if code is not None:
            _write_status(request["status"], code)
    os._exit(0)


def _child(request, mode):
    """Body of a forked child: set up the page's process tree, then supervise it."""
    try:
        os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        request["log_fd"] = log  # faulthandler's, apart from the captured fd 2
        sys.stdout = sys.__stdout__ = os.fdopen(1, "w", buffering=1)
        sys.stderr = sys.__stderr__ = os.fdopen(2, "w", buffering=1)
        if mode == NAMESPACES:
            try:
                isolation.enter(request["repo"], [request["base"]])
            except OSError as error:
                mode = f"audit: {error}"
        _supervise(request, mode)
    except BaseException:  # noqa: BLE001 - report anything, then exit non-zero
        import traceback

        traceback.print_exc()
    finally:
        os._exit(70)


def _reap(write):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        write({"pid": pid, "status": os.waitstatus_to_exitcode(status)})


# Standard-library modules most pages import: cheap, safe to fork, and each
# would otherwise cost every page a few milliseconds.
STDLIB = ("collections", "dataclasses", "functools", "itertools", "json", "math",
          "pathlib", "random", "re", "statistics", "time", "typing")


def _mode():
    """"namespaces" if this machine lets a page have its own, else why not."""
    if os.environ.get("MDRUN_ISOLATION") == "audit":
        return "audit: MDRUN_ISOLATION=audit"
    if not sys.platform.startswith("linux"):
        return f"audit: namespaces need Linux, not {sys.platform}"
    folder = tempfile.mkdtemp(prefix="mdrun-probe-")
    try:
        why = isolation.probe(folder)
    finally:
        os.rmdir(folder)
    return NAMESPACES if why is None else f"audit: {why}"


def _preload(modules, backend):
    """Import the modules, Keras choosing `backend`, leaving no trace a page sees:
    KERAS_BACKEND as it was, keras.json in a folder of its own (a page's Keras
    writes its own into its home), libraries' start-up logs kept off the terminal
    unless an import fails."""
    saved = {name: os.environ.get(name) for name in ("KERAS_BACKEND", "KERAS_HOME")}
    home = tempfile.mkdtemp(prefix="mdrun-keras-")
    if backend is not None:
        os.environ.update(KERAS_BACKEND=backend, KERAS_HOME=home)
    log = tempfile.TemporaryFile()
    stderr = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        for name in (*STDLIB, *modules):
            importlib.import_module(name)
    except BaseException:
        os.dup2(stderr, 2)
        log.seek(0)
        sys.stderr.write(log.read().decode(errors="replace"))
        raise
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)
        log.close()
        shutil.rmtree(home, ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def serve(preload):
    """Read fork requests from stdin until it closes; report pids and statuses."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    os.nice(int(os.environ.pop("MDRUN_NICE", "0")))  # lower for pages beside tests
    _preload(preload, os.environ.pop("MDRUN_KERAS_BACKEND", None))
    importlib.import_module("mdrun.session")
    # What is imported now lives as long as the server: the collector in a page
    # need not walk it, and so does not copy the server's memory it shares.
    gc.freeze()
    out = os.fdopen(os.dup(1), "w", buffering=1)

    def write(message):
        out.write(json.dumps(message) + "\n")

    mode = _mode()
    write({"isolation": mode})
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    buffer = b""
    while True:
        ready, _, _ = select.select([0, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(write)
        if 0 not in ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                out.close()
                os.close(wake_r)
                os.close(wake_w)
                _child(request, mode)
            write({"id": request["id"], "pid": pid})
    _reap(write)


class ForkServerDied(RuntimeError):
    """The fork server is gone; start another."""


class ForkServer:
    """The runner's handle on a fork server process."""

    def __init__(self, preload=(), env=None, on_change=None):
        """`on_change`: called once the server is ready, and once it has died."""
        self._lock = threading.Condition()
        self._pids, self._statuses, self._next = {}, {}, 0
        self.isolation, self.dead = None, False
        self._on_change = on_change or (lambda: None)
        self._started = time.monotonic()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mdrun.forkserver", *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**(env or os.environ), "PYTHONPATH": HERE},
        )
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self):
        return self._proc.pid

    def _read(self):
        for line in self._proc.stdout:
            message = json.loads(line)
            with self._lock:
                if "isolation" in message:
                    self.isolation = message["isolation"]
                elif "id" in message:
                    self._pids[message["id"]] = message["pid"]
                else:
                    self._statuses[message["pid"]] = message["status"]
                self._lock.notify_all()
            if "isolation" in message:
                self._on_change()
        with self._lock:
            self.dead = True
            self._lock.notify_all()
        self._on_change()

    def ready(self, patience=60):
        """True once the server has imported its modules, or has died, or after
        `patience` seconds (a fork then says what is wrong)."""
        return self.isolation is not None or self.dead or \
            time.monotonic() - self._started > patience

    def dying(self):
        """True once the server has died or is dying (it cannot be saved then)."""
        return self.dead or isolation.dying(self._proc.pid)

    def fork(self, request):
        """Fork a page's process tree for `request`; return the supervisor's pid."""
        with self._lock:
            if self.dead:
                raise ForkServerDied("the fork server has died")
            self._next += 1
            ident = self._next
            try:
                self._proc.stdin.write(json.dumps({"id": ident, **request}) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                raise ForkServerDied("the fork server has died") from None
            if not self._lock.wait_for(lambda: ident in self._pids or self.dead,
                                       timeout=60):
                raise RuntimeError("the fork server did not answer within 60 s")
            if ident not in self._pids:
                raise ForkServerDied("the fork server has died")
            return self._pids.pop(ident)

    def mode(self, timeout=60):
        """The server's isolation mode, once it has said it."""
        with self._lock:
            self._lock.wait_for(lambda: self.isolation or self.dead, timeout=timeout)
            return self.isolation

    def status(self, pid, timeout=10):
        """The supervisor's returncode once it has ended, or None."""
        with self._lock:
            self._lock.wait_for(lambda: pid in self._statuses or self.dead,
                                timeout=timeout)
            return self._statuses.get(pid)

    def ended(self, pid):
        with self._lock:
            return pid in self._statuses

    def kill(self):
        if self._proc.poll() is None:
            self._proc.kill()

    def close(self):
        if self._proc.poll() is None:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


if __name__ == "__main__":
    serve(sys.argv[1:])
