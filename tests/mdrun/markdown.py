"""Parse a Markdown page into code blocks, by the fence grammar of superfences.

Fences are backticks or tildes, three or more, at any indentation (content tabs,
admonitions, lists). Each block records its language, its line, the content tabs
around it and the directives on the lines before it.
"""

import difflib
import re
from dataclasses import dataclass, field

from .directives import Directive, DirectiveError, parse_comment

OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
TAB = re.compile(r'^(?P<indent>[ \t]*)===[+!]?[ \t]+"(?P<label>[^"]*)"')

PYTHON = {"python", "py", "python3"}
SHELL = {"bash", "sh", "shell"}
DATA = {"yaml", "yml", "json", "toml"}
DISPLAY = {
    "text", "txt", "plain", "output", "console", "pycon", "markdown", "md", "html",
    "xml", "css", "javascript", "js", "ini", "cfg", "diff", "makefile", "make",
    "dockerfile", "mermaid", "svg",
}
KNOWN = PYTHON | SHELL | DATA | DISPLAY


class MarkdownError(Exception):
    """Bad input in a page: says where (file:line) and what to do."""

    def __init__(self, page, line, message):
        super().__init__(f"{page}:{line}: {message}")
        self.page, self.line = page, line


@dataclass
class Block:
    page: str  # path relative to the repository, as shown in reports
    line: int  # 1-based line of the opening fence
    lang: str
    code: str  # the content, with the fence's indentation removed
    indent: str  # the fence's indentation, to write outputs back in place
    end: int  # 1-based line of the closing fence
    tab: str | None = None  # label of the outermost content tab around the block
    directives: list[Directive] = field(default_factory=list)
    output: "Block | None" = None  # the expected-output fence that follows

    @property
    def kind(self):
        for kind, names in (("python", PYTHON), ("shell", SHELL), ("data", DATA)):
            if self.lang in names:
                return kind
        return "display"

    def directive(self, short):
        return next((d for d in self.directives if d.short == short), None)

    def source(self):
        """The code padded with blank lines so line numbers are the page's own."""
        return "\n" * self.line + self.code


@dataclass
class Page:
    path: str
    blocks: list[Block]
    skipfile: Directive | None = None

    def reader_paths(self):
        """Return [(label, python blocks)] with one entry per content-tab label.

        A reader follows one tab label through the page, so a path is the
        untabbed Python blocks plus the blocks in that label's tabs, in order.
        A page without tabbed Python blocks has one path, labelled None.
        """
        python = [b for b in self.blocks if b.kind == "python"]
        labels = list(dict.fromkeys(b.tab for b in python if b.tab is not None))
        if not labels:
            return [(None, python)] if python else []
        return [(label, [b for b in python if b.tab in (None, label)])
                for label in labels]


def language_of(info, page, line):
    """The language named by a fence's info string, e.g. `python title="a.py"`."""
    info = info.strip()
    if info.startswith("{"):
        classes = re.findall(r"(?:^|\s)\.([\w+-]+)", info.strip("{}"))
        name = classes[0] if classes else ""
    else:
        name = info.split()[0] if info else ""
    name = name.lower()
    if not name:
        raise MarkdownError(page, line, "a fence without a language; write ```text "
                            "for plain text or ```python for code")
    if name not in KNOWN:
        hint = difflib.get_close_matches(name, sorted(KNOWN), n=1)
        raise MarkdownError(
            page, line, f"unknown language {name!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + " Use one of: " + ", ".join(sorted(KNOWN)))
    return name


def dedent(lines, indent):
    """Remove the fence's indentation from each content line."""
    width = len(indent)
    out = []
    for text in lines:
        stripped = len(text) - len(text.lstrip(" \t"))
        out.append(text[min(width, stripped):])
    return "\n".join(out)


def parse(text, page):
    """Parse the Markdown `text` of `page` into a Page; raise MarkdownError."""
    lines = text.splitlines()
    blocks, pending, tabs = [], [], []  # tabs: stack of (indent width, label)
    skipfile = None
    last_python = None
    number = 0
    while number < len(lines):
        raw = lines[number]
        number += 1
        if not raw.strip():
            continue
        width = len(raw) - len(raw.lstrip(" \t"))
        while tabs and width <= tabs[-1][0]:
            tabs.pop()
        try:
            directive = parse_comment(raw, number)
        except DirectiveError as error:
            raise MarkdownError(page, number, str(error)) from None
        if directive:
            if directive.short == "skipfile":
                if blocks or pending:
                    raise MarkdownError(page, number, "skipfile must come before "
                                        "the first code block of the page")
                skipfile = directive
            else:
                pending.append(directive)
            continue
        tab = TAB.match(raw)
        if tab:
            tabs.append((width, tab["label"]))
        fence = OPEN.match(raw)
        if not fence or (fence["fence"][0] == "`" and "`" in fence["info"]):
            if pending:
                raise MarkdownError(page, pending[0].line, "a directive must be on "
                                    "the line just before a code fence")
            continue
        indent, marker = fence["indent"], fence["fence"]
        start = number
        closing = re.compile(r"^[ \t]*" + re.escape(marker[0]) + "{" +
                             str(len(marker)) + r",}[ \t]*$")
        content = []
        while number < len(lines) and not closing.match(lines[number]):
            content.append(lines[number])
            number += 1
        if number >= len(lines):
            raise MarkdownError(page, start, f"unclosed code fence {marker}; close it "
                                f"with {marker} at the same indentation")
        number += 1
        block = Block(page, start, language_of(fence["info"], page, start),
                      dedent(content, indent), indent, number,
                      tabs[0][1] if tabs else None, pending)
        pending = []
        if block.directive("expected-output"):
            if last_python is None or last_python.output is not None:
                raise MarkdownError(page, start, "expected-output must follow the "
                                    "python block whose output it shows")
            if len(block.directives) > 1:
                raise MarkdownError(page, start, "an expected-output fence takes no "
                                    "other directive")
            last_python.output = block
            block.lang = "output"
            last_python = None
        else:
            last_python = block if block.kind == "python" else None
            blocks.append(block)
    if pending:
        raise MarkdownError(page, pending[0].line, "a directive must be on the line "
                            "just before a code fence")
    return Page(page, blocks, skipfile)
