"""Parse the HTML-comment directives of pytest-codeblocks' syntax.

`<!--pytest.mark.skip(reason="...")-->` and `<!--pytest-codeblocks:skipfile-->` are
directives; any other HTML comment is prose and is ignored.
"""

import ast
import difflib
import re
from dataclasses import dataclass, field

COMMENT = re.compile(r"^\s*<!--\s*(?P<body>pytest(?:\.|-codeblocks:).*?)\s*-->\s*$")
CALL = re.compile(
    r"^(?P<name>pytest\.mark\.\w+|pytest-codeblocks:[\w-]+)(?P<args>\(.*\))?$")

KNOWN = {
    "pytest.mark.skip",
    "pytest.mark.skipif",
    "pytest.mark.xfail",
    "pytest.mark.timeout",
    "pytest-codeblocks:importorskip",
    "pytest-codeblocks:skipfile",
    "pytest-codeblocks:expected-output",
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
        return self.name.split(".")[-1].split(":")[-1]

    def literal(self, key, default=None):
        """The value of keyword `key`, which must be a Python literal."""
        if key not in self.kwargs:
            return default
        try:
            return ast.literal_eval(self.kwargs[key])
        except ValueError:
            raise DirectiveError(
                f"{self.name}: {key}= must be a literal, not {self.kwargs[key]}"
            ) from None


def parse_comment(text, line):
    """Return the Directive in one Markdown line, or None if it holds none."""
    match = COMMENT.match(text)
    if not match:
        return None
    body = match["body"]
    call = CALL.match(body)
    if not call:
        raise DirectiveError(f"cannot read the directive {body!r}")
    name = call["name"]
    if name not in KNOWN:
        hint = difflib.get_close_matches(name, sorted(KNOWN), n=1)
        raise DirectiveError(
            f"unknown directive {name!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + f" Known: {', '.join(sorted(KNOWN))}"
        )
    directive = Directive(name, line)
    if call["args"]:
        try:
            node = ast.parse("f" + call["args"], mode="eval").body
        except SyntaxError as error:
            raise DirectiveError(
                f"{name}: cannot parse its arguments: {error.msg}") from None
        source = "f" + call["args"]
        directive.args = [ast.get_source_segment(source, a) for a in node.args]
        directive.kwargs = {
            k.arg: ast.get_source_segment(source, k.value) for k in node.keywords
        }
    return directive
