"""Which warm interpreter a reader path may be forked from.

The fork server imports the heavy libraries once, so pages skip the cost. Keras
fixes its backend from KERAS_BACKEND when it is first imported (and importing
TensorFlow imports Keras), so a path that uses either may only fork from an
interpreter that chose the backend the path would choose: the one its code sets
before its first import of keras or tensorflow, else the environment's, else
Keras's default. The code is read, not run. A path that sets KERAS_BACKEND in any
other way before that import (a computed value, inside an `if`, `os.putenv`), or
whose first such import is inside a function or a statement that may not run
first, runs cold: from an interpreter without Keras, saying why.
"""

import ast
import os

KERAS = ("keras", "tensorflow")  # importing either fixes Keras's backend
DEFAULT_BACKEND = "tensorflow"  # Keras 3's default


def imported(sources):
    """The top-level names of every module the code imports, anywhere in it."""
    names = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def _environ_key(node):
    """For os.environ["X"] or os.environ.setdefault("X", ...): "X", else None."""
    target = node.value if isinstance(node, ast.Subscript) else None
    key = node.slice if target is not None else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr == "setdefault" and node.args:
        target, key = node.func.value, node.args[0]
    if isinstance(target, ast.Attribute) and target.attr == "environ" and \
            isinstance(target.value, ast.Name) and target.value.id == "os" and \
            isinstance(key, ast.Constant):
        return key.value
    return None


def _setting(statement):
    """("set" | "setdefault", value) if the statement sets KERAS_BACKEND to a
    string written in the code, else None."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and \
            _environ_key(statement.targets[0]) == "KERAS_BACKEND" and \
            isinstance(statement.value, ast.Constant) and \
            isinstance(statement.value.value, str):
        return "set", statement.value.value
    call = statement.value if isinstance(statement, ast.Expr) else None
    if isinstance(call, ast.Call) and _environ_key(call) == "KERAS_BACKEND" and \
            len(call.args) == 2 and isinstance(call.args[1], ast.Constant) and \
            isinstance(call.args[1].value, str):
        return "setdefault", call.args[1].value
    return None


def _imports_keras(node):
    return bool(imported([ast.unparse(node)]) & set(KERAS))


def _reads(parent):
    """True if the node holding the name KERAS_BACKEND only reads the variable:
    a comparison (`in os.environ`), `os.environ[...]`, `.get(...)`, `getenv(...)`."""
    if isinstance(parent, ast.Compare):
        return True
    if isinstance(parent, ast.Subscript):
        return isinstance(parent.ctx, ast.Load)
    if isinstance(parent, ast.Call):
        func = parent.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in ("get", "getenv")
    return False


def _sets_backend(statement):
    """True if the statement may set KERAS_BACKEND: names it other than to read it."""
    for parent in ast.walk(statement):
        if isinstance(parent, ast.keyword) and parent.arg == "KERAS_BACKEND":
            return True  # os.environ.update(KERAS_BACKEND=...)
        for child in ast.iter_child_nodes(parent):
            if isinstance(child, ast.Constant) and child.value == "KERAS_BACKEND" \
                    and not _reads(parent):
                return True
    return False


def choose(sources, environ=None):
    """(backend, None) for a path that imports keras or tensorflow; (None, None)
    for one that imports neither; (None, why) for one that must run cold."""
    environ = os.environ if environ is None else environ
    if not imported(sources) & set(KERAS):
        return None, None
    chosen = environ.get("KERAS_BACKEND") or None
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return None, "a block before its first Keras import does not parse"
        for statement in tree.body:
            setting = _setting(statement)
            if setting is not None:
                how, value = setting
                chosen = value if how == "set" else chosen or value
                continue
            top = isinstance(statement, (ast.Import, ast.ImportFrom))
            if top and _imports_keras(statement):
                return chosen or DEFAULT_BACKEND, None
            if _imports_keras(statement):
                return None, (f"line {statement.lineno}: its first import of Keras or "
                              "TensorFlow is inside a statement that may run later")
            if _sets_backend(statement):
                return None, (f"line {statement.lineno}: KERAS_BACKEND is set in a way "
                              "only running the code can tell")
    return None, None  # unreachable: the import is in some top-level statement
