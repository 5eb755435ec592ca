"""Run one reader path of a page: its Python blocks in order, in one namespace.

This runs in a process of its own (forked from the fork server), in an empty
temporary working directory. It reports to the runner over a connection:
("start", index) before each block, ("done", index, result) after it.

Output is captured at the file-descriptor level: for each block, fd 1 and fd 2
point into files of their own, so print, os.write, C extensions and subprocesses
all land in the block that produced them. Compiler flags (`from __future__
import ...`) carry over from block to block, as in one script. A deprecation or
future warning raised while a block runs fails it, unless a filterwarnings
directive accepts it, and an acceptance that matched nothing fails too.
"""

import __future__

import builtins
import ctypes
import faulthandler
import functools
import importlib
import linecache
import operator
import os
import re
import signal
import sys
import time
import traceback
import types
import warnings

from . import directives, sandbox, solution
from .results import LIBRARIES

RUNNER = os.path.dirname(os.path.abspath(__file__)) + os.sep
IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp")
FUTURE_FLAGS = functools.reduce(operator.or_, (
    getattr(__future__, name).compiler_flag for name in __future__.all_feature_names))
GATED = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
_libc = ctypes.CDLL(None)


def _prepare(spec, context):
    """Make this process look like a fresh `python` started in the work folder."""
    workdir = spec["workdir"]
    os.chdir(workdir)
    home = os.path.join(workdir, ".home")
    os.makedirs(home, exist_ok=True)
    os.environ.update(HOME=home, MPLCONFIGDIR=os.path.join(home, ".matplotlib"),
                      MPLBACKEND="Agg")
    _reproducible_figures(os.environ["MPLCONFIGDIR"])
    os.environ.pop("PYTHONPATH", None)
    repo = os.path.realpath(spec["repo"])
    sys.path[:] = [""] + [p for p in sys.path[1:]
                          if not os.path.realpath(p or ".").startswith(repo + os.sep)
                          or "site-packages" in p]
    sys.dont_write_bytecode = True
    # A crash or a hang dumps where it was into the log, for the report: not to
    # fd 2, which points into the running block's captured stderr.
    log = context.get("log", 2)
    faulthandler.enable(file=log, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=log, all_threads=True)
    sandbox.install(repo, parent=os.getppid())
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    return main.__dict__


def _reproducible_figures(config):
    """The same figure twice gives the same SVG file: no date, fixed element ids,
    so --update-outputs leaves an unchanged figure in media/ byte for byte."""
    os.makedirs(config, exist_ok=True)
    with open(os.path.join(config, "matplotlibrc"), "w") as rc:
        rc.write("svg.hashsalt: mdrun\n")
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")


def _without_runner(report):
    """Drop the runner's own frames from a TracebackException and its chain."""
    while report is not None:
        report.stack = traceback.StackSummary.from_list(
            [f for f in report.stack if not f.filename.startswith(RUNNER)])
        report = report.__cause__ or report.__context__


def _error(exc, page):
    """Describe `exc`, keeping only the frames from the page onwards."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != page:
        tb = tb.tb_next
    frames = traceback.extract_tb(tb) if tb else []
    lines = [f.lineno for f in frames if f.filename == page]
    if isinstance(exc, SyntaxError) and exc.filename == page:
        lines.append(exc.lineno)
    report = traceback.TracebackException(type(exc), exc, tb)
    _without_runner(report)
    text = "".join(report.format())
    return {"type": type(exc).__name__, "message": str(exc), "traceback": text,
            "line": lines[-1] if lines else None}


def _images():
    return {name: os.stat(name).st_mtime_ns for name in os.listdir(".")
            if name.lower().endswith(IMAGE_SUFFIXES)}


def _versions(namespace):
    """Versions of the libraries the page's own names come from.

    Read from the namespace, not sys.modules, because the fork server may have
    imported a library the page never uses.
    """
    used = set()
    for value in list(namespace.values()):
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(
            value, "__module__", None)
        if isinstance(name, str):
            used.add(name.split(".")[0])
    # str(): torch's version is a str subclass of torch's own; unpickling it would
    # import torch into the runner's process.
    return {label: str(getattr(sys.modules[name], "__version__", "?"))
            for name, label in LIBRARIES.items() if name in used}


def _remember_source(page, source):
    """Keep every block run so far in linecache, each at its own page lines.

    Tracebacks, inspect.getsource and tf.function's AutoGraph then find the code
    of a function defined in an earlier block.
    """
    known = linecache.cache.get(page, (0, None, [], page))[2]
    # Every line ends with a newline, the block's last one too: a kept line without
    # one runs into the next, and inspect would cut a function short.
    lines = source.rstrip("\n").split("\n")
    lines = [line + "\n" for line in lines]
    merged = [new if new.strip() else old for old, new in
              zip(known, lines, strict=False)] + lines[len(known):]
    merged += known[len(merged):]
    linecache.cache[page] = (sum(map(len, merged)), None, merged, page)


class _Capture:
    """Point fd 1 and fd 2 into files of their own while a block runs."""

    def __init__(self, folder, index):
        self.paths = [os.path.join(folder, f"{index}.{name}")
                      for name in ("out", "err")]

    @staticmethod
    def _flush():
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        _libc.fflush(None)  # C stdio buffers of extensions

    def __enter__(self):
        self._flush()
        self.saved = [os.dup(1), os.dup(2)]
        for fd, path in zip((1, 2), self.paths, strict=True):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        return self

    def __exit__(self, *exc):
        self._flush()
        for fd, saved in zip((1, 2), self.saved, strict=True):
            os.dup2(saved, fd)
            os.close(saved)

    def read(self):
        texts = []
        for path in self.paths:
            with open(path, "rb") as captured:
                texts.append(captured.read().decode(errors="replace"))
        return texts


def _category(name):
    """A warning category from its name: builtin or dotted (module.Class)."""
    if "." not in name:
        found = getattr(builtins, name, None)
    else:
        module, _, attr = name.rpartition(".")
        found = getattr(importlib.import_module(module), attr, None)
    if not (isinstance(found, type) and issubclass(found, Warning)):
        raise ValueError(f"{name!r} is not a warning category")
    return found


class _Accept:
    """One filterwarnings directive: pytest's "action:message:category:module:
    lineno" text, matched as warnings.filterwarnings would."""

    def __init__(self, text, line):
        parts = (text.split(":", 4) + [""] * 5)[:5]
        action, message, category, module, lineno = (p.strip() for p in parts)
        self.text, self.line, self.used = text, line, False
        self.action = action or "default"
        self.message = re.compile(message, re.I)
        self.category = _category(category) if category else Warning
        self.module = re.compile(module) if module else None
        self.lineno = int(lineno) if lineno else 0

    def matches(self, message, category, module, lineno):
        return (self.message.match(str(message)) is not None
                and issubclass(category, self.category)
                and (self.module is None or self.module.match(module) is not None)
                and (not self.lineno or self.lineno == lineno))


def _module_of(filename, page):
    if filename == page:
        return "__main__"
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return os.path.splitext(os.path.basename(filename))[0]


class _Gate:
    """Record deprecation and future warnings raised while a block runs, from any
    module, and apply the page's filterwarnings directives to every warning."""

    def __init__(self, page, accepts):
        self.page, self.accepts, self.caught = page, accepts, []

    def __enter__(self):
        self.saved = warnings.catch_warnings()
        self.saved.__enter__()
        for category in GATED:  # over any filter a library installed at import
            warnings.filterwarnings("always", category=category)
        for accept in reversed(self.accepts):  # the page's own, first of all
            warnings.filterwarnings(
                "error" if accept.action == "error" else "always",
                message=accept.message.pattern, category=accept.category,
                module=accept.module.pattern if accept.module else "",
                lineno=accept.lineno)
        self.show = warnings.showwarning
        warnings.showwarning = self._show
        return self

    def __exit__(self, *exc):
        self.saved.__exit__(*exc)

    def _page_line(self):
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename != self.page:
            frame = frame.f_back
        return frame.f_lineno if frame is not None else None

    def _show(self, message, category, filename, lineno, file=None, line=None):
        module = _module_of(filename, self.page)
        for accept in self.accepts:
            if accept.matches(message, category, module, lineno):
                accept.used = True
                if accept.action != "ignore":
                    self.show(message, category, filename, lineno, file, line)
                return
        if issubclass(category, GATED):
            self.caught.append((category, str(message), filename, lineno,
                                self._page_line()))
        self.show(message, category, filename, lineno, file, line)

    def raised(self, error):
        """Mark an "error" acceptance used by the warning `error` it raised."""
        if isinstance(error, Warning):
            for accept in self.accepts:
                if accept.action == "error" and accept.matches(
                        error, type(error), _module_of(self.page, self.page), 0):
                    accept.used = True


def _warned(gate, page):
    """The failure for deprecation or future warnings a block raised."""
    rows = []
    for category, message, filename, lineno, where in gate.caught:
        rows.append(f"{page}:{where or '?'}: {category.__name__}: {message}\n"
                    f"    raised at {filename}:{lineno}")
    category, message, _, _, where = gate.caught[0]
    first_line = message.splitlines()[0] if message else ""
    hint = (f'<!--pytest.mark.filterwarnings("ignore:{re.escape(first_line)[:60]}:'
            f'{category.__name__}")-->')
    text = ("a deprecation or future warning fails the block; fix the code, or "
            "accept the warning with a directive before the block, such as\n"
            f"    {hint}\n\n" + "\n".join(rows))
    return {"type": category.__name__, "message": message, "traceback": text,
            "line": where}


def run_block(block, namespace, state=None):
    """Run one block; return its result dict."""
    state = state if state is not None else {"flags": 0, "folder": None, "index": 0}
    page = block["page"]
    source = block["source"]
    try:  # skipif, importorskip and xfail's condition, decided here in the session
        verdict, raises = directives.decide(block.get("gates", ()))
    except directives.DirectiveError as exc:
        return {"status": "failed", "stdout": "", "stderr": "", "figures": [],
                "versions": {}, "error": {"type": "DirectiveError", "line": exc.line,
                                          "message": str(exc), "traceback": ""}}
    if verdict == "skip":
        return {"status": "skipped", "reason": raises, "stdout": "", "stderr": "",
                "figures": [], "versions": {}}
    try:
        accepts = [_Accept(text, line) for text, line in block.get("filters", ())]
    except (ValueError, ImportError, re.error) as exc:
        line = block["filters"][0][1] if block.get("filters") else None
        return {"status": "failed", "stdout": "", "stderr": "", "figures": [],
                "versions": {}, "error": {"type": "DirectiveError", "line": line,
                                          "message": f"filterwarnings: {exc}",
                                          "traceback": ""}}
    _remember_source(page, source)
    capture = _Capture(state["folder"] or os.getcwd(), state["index"])
    before = _images()
    start = time.perf_counter()
    error = None
    gate = _Gate(page, accepts)
    try:
        with capture, gate:
            code = compile(source, page, "exec", flags=state["flags"],
                           dont_inherit=True)
            state["flags"] |= code.co_flags & FUTURE_FLAGS
            exec(code, namespace)
    except BaseException as exc:  # noqa: BLE001 - a block may raise anything
        error = exc
        gate.raised(exc)
    stdout, stderr = capture.read()
    result = {"stdout": stdout, "stderr": stderr,
              "duration": time.perf_counter() - start,
              "figures": sorted(n for n, t in _images().items() if before.get(n) != t),
              "versions": _versions(namespace)}
    if error is None and gate.caught:
        result["error"] = _warned(gate, page)
        result["status"] = "failed"
        return result
    # The runner fails a filter that matched nothing on every reader path.
    result["unused_filters"] = [[a.text, a.line] for a in accepts if not a.used]
    if error is None:
        result["status"] = "xpassed" if raises is not None else "passed"
        return result
    result["error"] = _error(error, page)
    if raises is not None:
        if isinstance(error, raises):
            result["status"] = "xfailed"
            return result
    result["status"] = "failed"
    return result


def run(conn, spec, context=None):
    """Run every block in spec["blocks"], stopping at the first failure."""
    context = context or {}
    namespace = _prepare(spec, context)
    folder = os.path.join(context.get("base") or os.path.dirname(spec["workdir"]),
                          "captured")
    os.makedirs(folder, exist_ok=True)
    state = {"flags": 0, "folder": folder, "index": 0, "workdir": spec["workdir"]}
    for index, block in enumerate(spec["blocks"]):
        conn.send(("start", index))
        state["index"] = index
        if block.get("solution"):
            result = solution.run(run_block, block, namespace, state, index)
        else:
            result = run_block(block, namespace, state)
        result["isolation"] = context.get("isolation", "audit: in-process")
        conn.send(("done", index, result))
        if result["status"] == "failed" and not block.get("solution"):
            break
    conn.send(("end",))
