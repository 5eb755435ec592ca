"""Compare printed output with a page's expected output, and write outputs back.

Whitespace is normalised, and a number in the expected output matches to the
precision it is written with, like doctest's NUMBER option: `0.333` matches
`0.3333333`; `0.334` does not.
"""

import re
from pathlib import Path

NUMBER = re.compile(r"([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)")


def normalise(text):
    return " ".join(text.split())


def _number_matches(expected, actual):
    if expected == actual:
        return True
    mantissa, _, exponent = expected.lower().partition("e")
    if "." not in mantissa:
        return False
    decimals = len(mantissa.split(".")[1])
    tolerance = 0.5 * 10 ** (int(exponent or 0) - decimals)
    return abs(float(actual) - float(expected)) <= tolerance * (1 + 1e-9)


def matches(expected, actual):
    """True if `actual` output shows what `expected` shows."""
    want, got = NUMBER.split(normalise(expected)), NUMBER.split(normalise(actual))
    if len(want) != len(got):
        return False
    # re.split with one group alternates text (even) and numbers (odd).
    return all(
        (w == g) if i % 2 == 0 else _number_matches(w, g)
        for i, (w, g) in enumerate(zip(want, got, strict=True))
    )


def rewrite(path, updates):
    """Replace expected-output fences in the file at `path`, touching nothing else.

    `updates` is a list of (output Block, new text). Lines between each fence's
    opening and closing lines are replaced, indented as the fence is.
    """
    path = Path(path)
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    for block, new in sorted(updates, key=lambda u: -u[0].line):
        body = [(block.indent + row).rstrip() + newline if row.strip() else newline
                for row in new.rstrip("\n").split("\n")] if new.strip() else []
        lines[block.line:block.end - 1] = body
    path.write_text("".join(lines))
