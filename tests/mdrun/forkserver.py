"""A pre-warmed interpreter that forks one child per page session.

Starting Python and importing the runner costs more than most blocks, so the
runner starts this server once and forks it per page: each child is a fresh
namespace with nothing imported but the runner, a few standard-library modules
and any modules the `codeblocks_preload` setting names.

Protocol, JSON lines: the runner writes {"id", "socket", "log"} to the server's
stdin; the server answers {"id", "pid"} once it has forked, and {"pid", "status"}
when a child ends (status as subprocess's returncode: negative for a signal).
The child connects to "socket" and runs mdrun.session there.
"""

import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _child(request):
    """Body of a forked child: connect to the runner and run the session."""
    code = 0
    try:
        os.setpgid(0, 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(request["socket"])
        conn = Connection(sock.detach())
        from . import session

        session.run(conn, conn.recv())
        conn.close()
    except BaseException:  # noqa: BLE001 - report anything, then exit non-zero
        import traceback

        traceback.print_exc()
        code = 70
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap(write):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else \
            os.WEXITSTATUS(status)
        write({"pid": pid, "status": code})


# Standard-library modules most pages import: cheap, safe to fork, and each
# would otherwise cost every page a few milliseconds.
STDLIB = ("collections", "dataclasses", "functools", "itertools", "json", "math",
          "pathlib", "random", "re", "statistics", "time", "typing")


def serve(preload):
    """Read fork requests from stdin until it closes; report pids and statuses."""
    for name in (*STDLIB, *preload):
        importlib.import_module(name)
    importlib.import_module("mdrun.session")
    out = os.fdopen(os.dup(1), "w", buffering=1)

    def write(message):
        out.write(json.dumps(message) + "\n")

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
                _child(request)
            write({"id": request["id"], "pid": pid})
    _reap(write)


class ForkServer:
    """The runner's handle on a fork server process."""

    def __init__(self, preload=(), env=None):
        self._lock = threading.Condition()
        self._pids, self._statuses, self._next = {}, {}, 0
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mdrun.forkserver", *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**(env or os.environ), "PYTHONPATH": HERE},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self._proc.stdout:
            message = json.loads(line)
            with self._lock:
                if "id" in message:
                    self._pids[message["id"]] = message["pid"]
                else:
                    self._statuses[message["pid"]] = message["status"]
                self._lock.notify_all()

    def fork(self, socket_path, log_path):
        """Fork a child that connects to `socket_path`; return its pid."""
        with self._lock:
            self._next += 1
            ident = self._next
            self._proc.stdin.write(json.dumps(
                {"id": ident, "socket": socket_path, "log": log_path}) + "\n")
            self._proc.stdin.flush()
            if not self._lock.wait_for(lambda: ident in self._pids, timeout=60):
                raise RuntimeError("the fork server did not answer within 60 s")
            return self._pids.pop(ident)

    def status(self, pid, timeout=10):
        """The child's returncode once it has ended, or None after `timeout`."""
        with self._lock:
            self._lock.wait_for(lambda: pid in self._statuses, timeout=timeout)
            return self._statuses.pop(pid, None)

    def close(self):
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()


if __name__ == "__main__":
    serve(sys.argv[1:])
