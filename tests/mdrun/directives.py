"""Parse the HTML-comment directives of pytest-codeblocks' syntax, strictly.

`<!--pytest.mark.skip(reason="...")-->` and `<!--pytest-codeblocks:skipfile-->` are
directives. A one-line HTML comment that mentions pytest or codeblocks (or comes
close to a directive's name) but is not a known directive written exactly is an
error with a suggestion, never prose: a misspelt directive must not silently do
nothing. Any other HTML comment is prose and is ignored.

Arguments are checked when the page is collected: literals are read with
`literal` (never eval); conditions (skipif, xfail) and exception names (raises=)
are only parsed here and evaluated by `decide`, in the page's own session, just
before the block runs.
"""

import ast
import builtins
import difflib
import importlib
import importlib.util
import os
import platform
import re
import sys
from dataclasses import dataclass, field

OPENING = re.compile(r"^\s*<!--(?P<rest>.*)$")
CALL = re.compile(
    r"^(?P<name>pytest\.mark\.\w+|pytest-codeblocks:[\w-]+)(?P<args>\(.*\))?$",
    re.DOTALL)
DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
MAX_TIMEOUT = 3600

# Every directive name pytest-codeblocks 0.18 reads, and the kind it is here.
KNOWN = {
    "pytest.mark.skip": "skip",
    "pytest.mark.skipif": "skipif",
    "pytest.mark.xfail": "xfail",
    "pytest.mark.timeout": "timeout",
    "pytest.mark.filterwarnings": "filterwarnings",
    "pytest-codeblocks:skip": "skip",
    "pytest-codeblocks:skipif": "skipif",
    "pytest-codeblocks:importorskip": "importorskip",
    "pytest-codeblocks:skipfile": "skipfile",
    "pytest-codeblocks:expected-output": "expected-output",
    "pytest-codeblocks:expected-output-ignore-whitespace": "expected-output",
    # This runner's own: output whose numbers depend on the machine (timings).
    "pytest-codeblocks:measured-output": "expected-output",
    "pytest-codeblocks:expect-exception": "xfail",
    "pytest-codeblocks:expect-error": "xfail",
    "pytest-codeblocks:cont": "cont",
}
# Positional arguments (min, max, what they are) and keyword arguments by kind.
SIGNATURES = {
    "skip": (0, 1, "reason", {"reason": "reason"}),
    "skipif": (1, None, "condition", {"reason": "reason"}),
    "xfail": (0, None, "condition", {"condition": "condition", "reason": "reason",
                                     "raises": "raises", "strict": "bool"}),
    "timeout": (1, 1, "seconds", {}),
    "filterwarnings": (1, None, "filter", {}),
    "importorskip": (1, 1, "module", {}),
}
SIMPLE = {  # names pytest-codeblocks reads without arguments
    "pytest-codeblocks:skip", "pytest-codeblocks:expected-output",
    "pytest-codeblocks:expected-output-ignore-whitespace", "pytest-codeblocks:cont",
    "pytest-codeblocks:measured-output",
    "pytest-codeblocks:expect-exception", "pytest-codeblocks:expect-error",
    "pytest-codeblocks:skipfile",
}


class DirectiveError(ValueError):
    """A directive that cannot be used; the message says what to write instead."""


@dataclass
class Directive:
    name: str
    line: int
    args: list = field(default_factory=list)  # source text of positional arguments
    kwargs: dict = field(default_factory=dict)  # name -> source text

    @property
    def short(self):
        """The directive's kind: skip, skipif, xfail, timeout, importorskip,
        skipfile, expected-output or cont (aliases share their kind)."""
        return KNOWN[self.name]

    def literal(self, key, default=None):
        """The value of keyword `key`, which must be a Python literal."""
        if key not in self.kwargs:
            return default
        return literal(self.kwargs[key], f"{self.name}: {key}=")

    @property
    def reason(self):
        """The reason written with the directive, or None."""
        if "reason" in self.kwargs:
            return self.literal("reason")
        if self.short == "skip" and self.args:
            return literal(self.args[0], self.name)
        return None

    @property
    def conditions(self):
        """Source of each condition (skipif, xfail), as an expression to evaluate."""
        sources = list(self.args)
        if "condition" in self.kwargs:
            sources.append(self.kwargs["condition"])
        return [_condition_source(source) for source in sources]

    @property
    def seconds(self):
        return float(literal(self.args[0], "timeout"))


def literal(source, what="argument"):
    """A directive argument as a value: a Python literal, or a bare (dotted) name
    such as jax or jax.numpy, which stands for its own text. Never evaluates code."""
    source = source.strip()
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if DOTTED.match(source):
            return source
        raise DirectiveError(f"{what} must be a literal such as \"text\", 600 or "
                             f"True, not {source}") from None


def _condition_source(source):
    """A condition as expression source; a string condition holds its expression,
    as pytest's skipif("sys.platform == 'win32'") does."""
    node = ast.parse(source.strip(), mode="eval").body
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return source.strip()


def _words(text):
    return re.findall(r"[a-z]+", text.lower())


def _key(name):
    """A name reduced to its letters: how close two spellings are."""
    return "".join(_words(name))


def _looks_like_directive(body):
    """True if a comment mentions pytest or codeblocks, or nearly names a directive."""
    letters = _key(body)
    if "pytest" in letters or "codeblock" in letters:
        return True
    return any(difflib.get_close_matches(word, ["pytest", "codeblocks"], cutoff=0.8)
               for word in _words(body))


def suggestion(name):
    """The known directive name closest to `name`, or None."""
    keys = {_key(known): known for known in sorted(KNOWN)}
    close = difflib.get_close_matches(_key(name), list(keys), n=1, cutoff=0.6)
    return keys[close[0]] if close else None


def _unknown(body, why):
    head, paren, args = body.partition("(")
    hint = suggestion(head)
    if hint:
        return DirectiveError(f"{why} {head.strip()!r}; did you mean {hint!r}? "
                              f"Write <!--{hint}{paren}{args}-->")
    return DirectiveError(
        f"{why} <!--{body}-->: an HTML comment that mentions pytest or codeblocks "
        "must be a directive (reword it if it is a note); known: "
        + ", ".join(sorted(KNOWN)))


def parse_comment(text, line):
    """Return the Directive in one Markdown line, or None if it holds none.

    Raise DirectiveError for a comment that looks like a directive but is not one.
    """
    opening = OPENING.match(text)
    if not opening:
        return None
    body, closed, after = opening["rest"].partition("-->")
    if not _looks_like_directive(body):
        return None
    body = body.strip(" \t-")  # as pytest-codeblocks reads <!-- name -->
    if not closed:
        raise DirectiveError(f"a directive must be one line, closed by --> on its "
                             f"line: <!--{body}")
    if after.strip():
        raise DirectiveError(f"nothing may follow a directive on its line; move "
                             f"{after.strip()!r} to a line of its own")
    call = CALL.match(body)
    if not call or call["name"] not in KNOWN:
        raise _unknown(body, "unknown directive")
    directive = Directive(call["name"], line)
    if call["args"]:
        source = "f" + call["args"]
        try:
            node = ast.parse(source, mode="eval").body
        except SyntaxError as error:
            raise DirectiveError(
                f"{directive.name}: cannot parse its arguments: {error.msg}") from None
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            raise DirectiveError(f"{directive.name}: write each argument out, "
                                 "without * or **")
        directive.args = [ast.get_source_segment(source, a) for a in node.args]
        directive.kwargs = {}
        for keyword in node.keywords:
            if keyword.arg in directive.kwargs:
                raise DirectiveError(
                    f"{directive.name}: {keyword.arg}= is given twice")
            directive.kwargs[keyword.arg] = ast.get_source_segment(
                source, keyword.value)
    check(directive)
    return directive


def check(directive):
    """Raise DirectiveError if the directive's arguments cannot be used."""
    name, kind = directive.name, directive.short
    args, kwargs = directive.args, directive.kwargs
    if name in SIMPLE:
        if args or kwargs:
            raise DirectiveError(f"{name} takes no arguments")
        return
    low, high, what, known = SIGNATURES[kind]
    if name == "pytest-codeblocks:skipif":
        high = 1
    for key in kwargs:
        if key not in known:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            raise DirectiveError(
                f"{name}: unknown keyword argument {key}="
                + (f"; did you mean {hint[0]}=?" if hint else "")
                + (f"; it takes {', '.join(k + '=' for k in sorted(known))}"
                   if known else f"; {name} takes no keyword arguments"))
    if len(args) < low or (high is not None and len(args) > high):
        count = f"{low}" if low == high else f"at least {low}" if high is None \
            else f"at most {high}"
        raise DirectiveError(f"{name} takes {count} positional argument(s) "
                             f"({what}), not {len(args)}")
    for source in args:
        _check_value(name, what, source)
    for key, source in kwargs.items():
        _check_value(name, known[key], source, key)


def _check_value(name, what, source, key=None):
    label = f"{name}: {key}=" if key else f"{name}: its {what}"
    if what == "reason":
        if not isinstance(literal(source, label), str) or DOTTED.match(source):
            raise DirectiveError(f"{label} must be a string in quotes, not {source}")
    elif what == "filter":
        if not isinstance(literal(source, label), str) or DOTTED.match(source):
            raise DirectiveError(f"{label} must be a string in quotes, such as "
                                 f"\"ignore::DeprecationWarning\", not {source}")
    elif what == "bool":
        if not isinstance(literal(source, label), bool):
            raise DirectiveError(f"{label} must be True or False, not {source}")
    elif what == "seconds":
        seconds = literal(source, label)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or \
                DOTTED.match(source):
            raise DirectiveError(f"{label} must be a number of seconds, e.g. "
                                 f"timeout(600), not {source}")
        if not 0 < seconds <= MAX_TIMEOUT:
            raise DirectiveError(f"{label} must be more than 0 and at most "
                                 f"{MAX_TIMEOUT} seconds, not {source}")
    elif what == "module":
        module = literal(source, label)
        if not isinstance(module, str) or not DOTTED.match(module):
            raise DirectiveError(f"{label} must be a module name, e.g. "
                                 f"importorskip(jax), not {source}")
    elif what == "condition":
        try:
            compile(_condition_source(source), "<condition>", "eval")
        except SyntaxError as error:
            raise DirectiveError(f"{label} is not an expression: "
                                 f"{error.msg}") from None
    elif what == "raises":
        for dotted in exception_names(source):
            if "." not in dotted:
                value = getattr(builtins, dotted, None)
                if not (isinstance(value, type) and issubclass(value, BaseException)):
                    raise DirectiveError(
                        f"{label}: {dotted} is not a built-in exception; name it "
                        "with its module, e.g. raises=json.JSONDecodeError")
            elif _find_spec(dotted.split(".")[0]) is None:
                raise DirectiveError(f"{label}: no module {dotted.split('.')[0]!r} "
                                     f"to take {dotted} from")


def _find_spec(name):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def exception_names(source):
    """The dotted names in raises=E or raises=(E, F); DirectiveError otherwise."""
    node = ast.parse(source.strip(), mode="eval").body
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    names = [ast.unparse(item) for item in items]
    if not items or not all(isinstance(item, ast.Name | ast.Attribute)
                            and DOTTED.match(name) for item, name in zip(
                                items, names, strict=True)):
        raise DirectiveError(f"raises= must name an exception or a tuple of "
                             f"them, e.g. raises=ZeroDivisionError, not {source}")
    return names


def check_together(directives):
    """Raise DirectiveError, with the line in .line, if a block carries two
    directives of one kind (two timeouts, skip and pytest-codeblocks:skip)."""
    seen = {}
    for directive in directives:
        first = seen.setdefault(directive.short, directive)
        if first is not directive:
            raise _failed(directive.line, f"a second {directive.short} directive "
                          f"for one block ({directive.name}; the first, {first.name},"
                          f" is on line {first.line}); keep one")


def gates(directives):
    """What the page's session must decide before running the block: a list of
    plain tuples, in the directives' order, that `decide` reads."""
    out = []
    for directive in directives:
        where = directive.line
        if directive.short == "skipif":
            out.append(("skipif", where, directive.conditions, directive.reason))
        elif directive.short == "importorskip":
            out.append(("importorskip", where, literal(directive.args[0])))
        elif directive.short == "xfail":
            raises = directive.kwargs.get("raises")
            out.append(("xfail", where, directive.conditions,
                        exception_names(raises) if raises else []))
    return out


def _resolve(dotted):
    if "." not in dotted:
        return getattr(builtins, dotted)
    module, _, attribute = dotted.rpartition(".")
    while True:
        try:
            value = importlib.import_module(module)
            break
        except ImportError:
            if "." not in module:
                raise
            module, _, rest = module.rpartition(".")
            attribute = f"{rest}.{attribute}"
    for part in attribute.split("."):
        value = getattr(value, part)
    if not (isinstance(value, type) and issubclass(value, BaseException)):
        raise TypeError(f"{dotted} is not an exception class")
    return value


def _failed(line, message):
    error = DirectiveError(message)
    error.line = line
    return error


def decide(gates):
    """Run in the page's session just before a block: its fate from its directives.

    Returns ("skip", reason), ("run", None) or ("xfail", exception types). Raises
    DirectiveError, with the directive's line in .line, when a condition or an
    exception name fails. Conditions see sys, os and platform, as in pytest.
    """
    namespace = {"sys": sys, "os": os, "platform": platform}
    xfail = None
    for gate in gates:
        kind, line = gate[0], gate[1]
        if kind == "importorskip":
            try:
                importlib.import_module(gate[2])
            except ImportError:
                return "skip", f"module {gate[2]!r} is not installed"
            continue
        true = []
        for source in gate[2]:
            try:
                true.append(bool(eval(source, dict(namespace))))  # noqa: S307
            except Exception as error:  # noqa: BLE001 - report any error
                raise _failed(line, f"cannot evaluate the {kind} condition "
                                    f"{source!r}: {error!r}") from None
        if kind == "skipif" and any(true):
            return "skip", gate[3] or "condition true: " + next(
                source for source, value in zip(gate[2], true, strict=True) if value)
        if kind == "xfail" and (not gate[2] or any(true)):
            try:
                xfail = tuple(_resolve(name) for name in gate[3]) or (BaseException,)
            except Exception as error:  # noqa: BLE001 - report any error
                raise _failed(line, "cannot find the exception in raises=: "
                                    f"{error!r}") from None
    return ("xfail", xfail) if xfail else ("run", None)


def skip_reason(directives, page):
    """Why the directives keep a block from ever running (a plain skip), or None.

    The one decision made before a page runs; the runner and the downloads both use
    it. Everything conditional (skipif, importorskip, xfail) is decided by `decide`
    in the page's session."""
    skip = next((d for d in directives if d.short == "skip"), None)
    if skip is None:
        return None
    return skip.reason or f"skip directive at {page}:{skip.line}"
