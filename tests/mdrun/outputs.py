"""Compare printed output with a page's expected output, and write outputs back.

Whitespace is normalised, and a number in the expected output matches to the
precision it is written with, like doctest's NUMBER option: `0.333` matches
`0.3333333`; `0.334` does not. The rest of the rule, number by number:

- a number written with decimals (`0.667`, `-1.50e-03`) matches any number within
  half a unit of its last digit; at zero (`0.000`, `-0.000`) either sign matches;
- a float written with a bare point (`1.`, `-0.`, `1.e5`, NumPy's way of printing
  a whole float) matches only a float of exactly that value, sign of zero included:
  `[1. 2. 3.]` does not match `[1.4 2.  2.6]`, and `-0.` does not match `0.`;
- an integer (`42`, `-3`) matches only itself, written the same way; a number
  with an exponent but no point (`1e-05`) matches only a float of the same value;
- a float on the page never matches an integer printed: `2.0` does not match `2`;
- anything with two or more points (`1.2.3`, a version) is text, matched exactly,
  and so are `nan` and `inf`.
"""

import math
import os
import re
import tempfile
from pathlib import Path

NUMBER = re.compile(r"([-+]?(?:\d+(?:\.\d*)*|\.\d+)(?:[eE][-+]?\d+)?)")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<rest>.*)$", re.DOTALL)
# Characters str.splitlines breaks at besides \n: in a page they would move lines.
LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


class OutputError(ValueError):
    """Output that cannot be written into the page; the page is left as it was."""


def normalise(text):
    return " ".join(text.split())


def _float(text):
    try:
        return float(text)
    except ValueError:  # 1.2.3
        return None


def _number_matches(expected, actual):
    if expected == actual:
        return True
    mantissa, _, exponent = expected.lower().partition("e")
    want, got = _float(expected), _float(actual)
    if want is None or got is None or mantissa.count(".") > 1:
        return False
    if "." not in mantissa and not exponent:
        return False  # an integer, not written the same
    if "." not in actual and "e" not in actual.lower():
        return False  # a float on the page, an integer printed
    if "." not in mantissa:  # 1e-05
        return want == got
    decimals = len(mantissa.split(".")[1])
    if decimals == 0:  # 1. or -0.: exactly this float
        return want == got and math.copysign(1, want) == math.copysign(1, got)
    tolerance = 0.5 * 10 ** (int(exponent or 0) - decimals)
    return abs(got - want) <= tolerance * (1 + 1e-9)


def masked(text):
    """The text with every number replaced by #: what a measured output must keep."""
    return NUMBER.sub("#", normalise(text))


def matches(expected, actual, ignore_whitespace=False, measured=False):
    """True if `actual` output shows what `expected` shows.

    With ignore_whitespace (pytest-codeblocks' expected-output-ignore-whitespace),
    text that is equal once all whitespace is removed matches too. A measured
    output (timings) matches when the text around its numbers is the same.
    """
    if measured:
        return masked(expected) == masked(actual)
    want, got = NUMBER.split(normalise(expected)), NUMBER.split(normalise(actual))
    if ignore_whitespace and re.sub(r"\s+", "", expected) == re.sub(
            r"\s+", "", actual):
        return True
    if len(want) != len(got):
        return False
    # re.split with one group alternates text (even) and numbers (odd).
    return all(
        (w == g) if i % 2 == 0 else _number_matches(w, g)
        for i, (w, g) in enumerate(zip(want, got, strict=True))
    )


def _decode(data, where):
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8-sig" if bom else "utf-8"), bom
    except UnicodeDecodeError as error:
        raise OutputError(f"{where}: the page is not UTF-8 ({error}); "
                          "it was left as it was") from None


def _body(block, new, newline, where):
    """The lines that replace a fence's content: `new` as printed, indented."""
    if LINE_BREAKS.search(new):
        char = LINE_BREAKS.search(new)[0]
        raise OutputError(
            f"{where}: the output holds the line-breaking character {char!r} "
            "(a progress bar?), which would move the page's lines; print without "
            "it. The page was left as it was")
    try:
        new.encode("utf-8")
    except UnicodeEncodeError as error:
        raise OutputError(f"{where}: the output cannot be written as UTF-8 "
                          f"({error}); the page was left as it was") from None
    rows = new.split("\n")
    if rows[-1] == "":
        rows.pop()  # the newline that ends the last line
    return [(block.indent + row if row else "") + newline for row in rows]


def _refence(line, length):
    """`line` (an opening or closing fence) with its fence made `length` long."""
    match = FENCE.match(line)
    return match["indent"] + match["fence"][0] * length + match["rest"]


def rewrite(path, updates, original=None):
    """Replace expected-output fences in the file at `path`, touching nothing else.

    `updates` is a list of (output Block, new text). Lines between each fence's
    opening and closing lines are replaced, indented as the fence is, with the
    opening line's line ending; the fence grows longer than any run of its
    character in the new text. The file is replaced atomically, keeping its mode,
    encoding (UTF-8, with or without BOM) and every other byte. If `original` is
    given, the page must still read as that text (as collected), or nothing is
    written. Raises OutputError, naming page:line, and writes nothing, if any
    output cannot be written.
    """
    path = Path(path)
    text, bom = _decode(path.read_bytes(), path)
    if original is not None and text.replace("\r\n", "\n").replace(
            "\r", "\n") != original.removeprefix("\ufeff"):
        raise OutputError(f"{path}: the page changed during the run; its outputs "
                          "were not updated. Run the update again")
    lines = text.splitlines(keepends=True)
    for block, new in sorted(updates, key=lambda u: -u[0].line):
        where = f"{block.page}:{block.line}"
        opening = lines[block.line - 1]
        newline = opening[len(opening.rstrip("\r\n")):] or "\n"
        body = _body(block, new, newline, where)
        fence = FENCE.match(opening)["fence"]
        runs = re.findall(re.escape(fence[0]) + "+", new)
        length = max([len(fence)] + [len(run) + 1 for run in runs])
        lines[block.line:block.end - 1] = body
        lines[block.line - 1] = _refence(opening, length)
        closing = block.line + len(body)
        lines[closing] = _refence(lines[closing], length)
    data = ("\ufeff" if bom else "") + "".join(lines)
    _replace(path, data.encode("utf-8"))


def _replace(path, data):
    """Write `data` to `path` atomically: a temporary file beside it, then rename."""
    mode = path.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
