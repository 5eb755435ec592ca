"""Run an exercise's solution in the page's session without changing what follows.

A solution sees every name, object and file the blocks before it made, and works
in a copy of the working folder. Nothing it does may reach the blocks after it,
which holds in one of two ways:

- forked (the session has one thread, as pages that use NumPy or PyTorch do): the
  solution runs in a fork of the session, so whatever it binds, changes in place,
  writes, seeds or sets ends with it;
- contained (the session runs threads, as TensorFlow's runtime does after its
  first op, and a fork would find them gone and hang): the solution runs in the
  session, in a copy of the namespace, with the working folder, environment,
  current folder, `__future__` flags and the Python, NumPy and PyTorch random
  states put back after it; an array, tensor, variable, model or container of the
  page that it changed in place fails it, naming the value, rather than leaking.
"""

import hashlib
import multiprocessing.connection
import os
import random
import shutil
import signal
import sys


def run(run_block, block, namespace, state, index):
    """The solution's result, run by `run_block` forked or contained."""
    workdir = state["workdir"]
    copy = os.path.join(os.path.dirname(workdir), f"solution-{index}")
    shutil.copytree(workdir, copy, symlinks=True)
    where = os.path.relpath(os.getcwd(), workdir)
    inside = os.path.join(copy, where) if not where.startswith(os.pardir) else None
    try:
        if _threads() == 1:
            return _forked(run_block, block, namespace, state, copy, inside)
        return _contained(run_block, block, namespace, state, copy, inside)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 2  # cannot tell: never fork


def _enter(copy, inside):
    """Work in the copy of the working folder, at the same place in it."""
    if inside is not None:
        os.chdir(inside)
    home = os.path.join(copy, ".home")
    os.environ.update(HOME=home, MPLCONFIGDIR=os.path.join(home, ".matplotlib"))


def _forked(run_block, block, namespace, state, copy, inside):
    reader, writer = multiprocessing.connection.Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the solution's own copy of the session
        code = 0
        try:
            reader.close()
            _enter(copy, inside)
            result = run_block(block, namespace, state)
            writer.send({**result, "figures": [], "solution": "forked"})
        except BaseException:  # noqa: BLE001 - the parent reports how it ended
            code = 70
        finally:
            os._exit(code)
    writer.close()
    try:
        result = reader.recv()
    except EOFError:
        result = None
    finally:
        reader.close()
    _, status = os.waitpid(pid, 0)
    if result is not None:
        return result
    code = os.waitstatus_to_exitcode(status)
    how = f"was killed by signal {signal.Signals(-code).name}" if code < 0 else \
        f"exited with code {code}"
    return _failed("SolutionEnded", f"the solution's process {how} before it finished")


def _failed(kind, message, line=None):
    return {"status": "failed", "stdout": "", "stderr": "", "figures": [],
            "versions": {}, "error": {"type": kind, "line": line, "traceback": "",
                                      "message": message}}


def _contained(run_block, block, namespace, state, copy, inside):
    before = {name: _digest(value) for name, value in namespace.items()}
    saved = (os.getcwd(), dict(os.environ), _random_states())
    try:
        _enter(copy, inside)
        result = run_block(block, dict(namespace), dict(state))
    finally:
        os.chdir(saved[0])
        os.environ.clear()
        os.environ.update(saved[1])
        _set_random_states(saved[2])
    result = {**result, "figures": [], "solution": "contained"}
    changed = [name for name, value in namespace.items()
               if before.get(name) is not None and _digest(value) != before[name]]
    if changed and result["status"] != "failed":
        names = ", ".join(f"`{name}`" for name in changed)
        return {**result, "status": "failed", "error": {
            "type": "SolutionLeaks", "line": None, "traceback": "", "message": (
                f"the solution changed {names} in place, which the blocks after it "
                "would see; work on a copy (copy.deepcopy, .copy(), .clone(), "
                "keras.models.clone_model)")}}
    return result


def _random_states():
    states = {"random": random.getstate()}
    if "numpy" in sys.modules:
        states["numpy"] = sys.modules["numpy"].random.get_state()
    if "torch" in sys.modules:
        states["torch"] = sys.modules["torch"].get_rng_state()
    return states


def _set_random_states(states):
    random.setstate(states["random"])
    if "numpy" in states:
        sys.modules["numpy"].random.set_state(states["numpy"])
    if "torch" in states:
        sys.modules["torch"].set_rng_state(states["torch"])


def _hash(array):
    return (array.shape, str(array.dtype),
            hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest())


def _digest(value, depth=0):
    """A fingerprint of what a value holds, for the values a solution could change
    in place: arrays, tensors, variables, models and plain containers of them; None
    for anything else (not checked)."""
    if depth > 4:
        return None
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return value
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    keras = sys.modules.get("keras")
    tf = sys.modules.get("tensorflow")
    try:
        if np is not None and isinstance(value, np.ndarray):
            return _hash(np.ascontiguousarray(value)) if value.dtype != object else \
                tuple(_digest(v, depth + 1) for v in value.ravel()[:1000])
        if torch is not None and isinstance(value, torch.Tensor):
            return _hash(value.detach().cpu().float().numpy()) \
                if not value.is_complex() else _hash(value.detach().cpu().numpy())
        if torch is not None and isinstance(value, torch.nn.Module):
            return tuple(_digest(t, depth + 1) for t in value.state_dict().values())
        if keras is not None and isinstance(value, keras.Layer):
            return tuple(_hash(np.asarray(w.numpy())) for w in value.weights)
        if tf is not None and isinstance(value, (tf.Variable, tf.Tensor)) and \
                hasattr(value, "numpy"):
            return _hash(np.asarray(value.numpy()))
    except Exception:  # noqa: BLE001 - a value that cannot be read is not checked
        return None
    if isinstance(value, (list, tuple)) and len(value) <= 10_000:
        return (type(value).__name__, tuple(_digest(v, depth + 1) for v in value))
    if isinstance(value, dict) and len(value) <= 10_000:
        return ("dict", tuple((repr(k), _digest(v, depth + 1))
                              for k, v in value.items()))
    if isinstance(value, (set, frozenset)) and len(value) <= 10_000:
        return ("set", tuple(sorted(repr(v) for v in value)))
    return None
