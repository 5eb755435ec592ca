"""Run one reader path of a page: its Python blocks in order, in one namespace.

This runs in a process of its own (forked from the fork server), in an empty
temporary working directory. It reports to the runner over a connection:
("start", index) before each block, ("done", index, result) after it.
"""

import contextlib
import faulthandler
import io
import linecache
import os
import signal
import sys
import time
import traceback
import types

from . import directives, sandbox

RUNNER = os.path.dirname(os.path.abspath(__file__)) + os.sep
LIBRARIES = {"numpy": "NumPy", "tensorflow": "TensorFlow", "keras": "Keras",
             "torch": "PyTorch"}
IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp")


def _prepare(spec):
    """Make this process look like a fresh `python` started in the work folder."""
    workdir = spec["workdir"]
    os.chdir(workdir)
    home = os.path.join(workdir, ".home")
    os.makedirs(home, exist_ok=True)
    os.environ.update(HOME=home, MPLCONFIGDIR=os.path.join(home, ".matplotlib"),
                      MPLBACKEND="Agg")
    os.environ.pop("PYTHONPATH", None)
    repo = os.path.realpath(spec["repo"])
    sys.path[:] = [""] + [p for p in sys.path[1:]
                          if not os.path.realpath(p or ".").startswith(repo + os.sep)
                          or "site-packages" in p]
    sys.dont_write_bytecode = True
    faulthandler.enable()  # a crash or a hang dumps where it was, for the report
    faulthandler.register(signal.SIGUSR1)
    sandbox.install(repo)
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    return main.__dict__


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
    return {label: getattr(sys.modules[name], "__version__", "?")
            for name, label in LIBRARIES.items() if name in used}


def _remember_source(page, source):
    """Keep every block run so far in linecache, each at its own page lines.

    Tracebacks, inspect.getsource and tf.function's AutoGraph then find the code
    of a function defined in an earlier block.
    """
    known = linecache.cache.get(page, (0, None, [], page))[2]
    lines = source.splitlines(True)
    merged = [new if new.strip() else old for old, new in
              zip(known, lines, strict=False)] + lines[len(known):]
    merged += known[len(merged):]
    linecache.cache[page] = (sum(map(len, merged)), None, merged, page)


def run_block(block, namespace):
    """Run one block; return its result dict."""
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
    _remember_source(page, source)
    out, err = io.StringIO(), io.StringIO()
    before = _images()
    start = time.perf_counter()
    error = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(source, page, "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001 - a block may raise anything
        error = exc
    result = {"stdout": out.getvalue(), "stderr": err.getvalue(),
              "duration": time.perf_counter() - start,
              "figures": sorted(n for n, t in _images().items() if before.get(n) != t),
              "versions": _versions(namespace)}
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


def run(conn, spec):
    """Run every block in spec["blocks"], stopping at the first failure."""
    namespace = _prepare(spec)
    for index, block in enumerate(spec["blocks"]):
        conn.send(("start", index))
        result = run_block(block, namespace)
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send(("done", index, result))
        if result["status"] == "failed":
            break
    conn.send(("end",))
