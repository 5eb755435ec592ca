"""Parse a Markdown page into code blocks, by the fence grammar of superfences.

lexer.py finds the fences the built page shows as code (blockquotes, admonitions,
details, content tabs, lists at any depth; not in HTML comments or inside indented
code). This module gives them meaning: each block's language, its page line, the
content tabs around it and the directives on the lines before it.

Reader paths (Page.reader_paths): a reader picks one tab in each tab set and reads
on. Tab sets whose labels are identical (in the same order) are linked, as
Material's content.tabs.link links them: one choice covers them all. Sets with
different labels are independent choices. A path is one choice for every group
of linked sets that holds Python code, and takes the untabbed Python blocks plus
the blocks every tab around which is the chosen one. All combinations are run,
because a reader may pick any; combinations that give the same blocks run once
(so a tab set nested in tab "A" multiplies only the paths through "A"). A path is
labelled by its choices in page order, joined by " / " ("PyTorch / Adam"); a page
without tabbed Python blocks has one path, labelled None.
"""

import difflib
import itertools
import re
from dataclasses import dataclass, field

from .directives import Directive, DirectiveError, parse_comment
from .lexer import LexError, lex

MAX_PATHS = 64
ESCAPED = re.compile(r"\\([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
QUOTE_PREFIX = re.compile(r"^[ >]*")

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
    tabs: list = field(default_factory=list)  # [(tab set key, label)], outermost first
    info: str = ""  # the language as written on the fence ("" for none)
    directives: list[Directive] = field(default_factory=list)
    output: "Block | None" = None  # the expected-output fence that follows
    solution: bool = False  # an exercise's solution: runs in a throwaway session copy

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

    tab_sets: dict = field(default_factory=dict)  # set key -> labels, in order

    def reader_paths(self):
        """Return [(label, python blocks)]: one entry per reader path.

        See the module docstring for the rule; label is None on a page without
        tabbed Python blocks.
        """
        python = [b for b in self.blocks if b.kind == "python"]
        groups = list(dict.fromkeys(key for b in python for key, _ in b.tabs))
        if not groups:
            return [(None, python)] if python else []
        choices = [self.tab_sets.get(key) or sorted(
            {label for b in python for k, label in b.tabs if k == key})
            for key in groups]
        paths, seen = [], set()
        for combination in itertools.product(*choices):
            chosen = dict(zip(groups, combination, strict=True))
            blocks = [b for b in python
                      if all(chosen[key] == label for key, label in b.tabs)]
            ids = tuple(id(b) for b in blocks)
            if ids in seen:
                continue
            seen.add(ids)
            used = {key for b in blocks for key, _ in b.tabs}
            paths.append((" / ".join(chosen[key] for key in groups if key in used),
                          blocks))
            if len(paths) > MAX_PATHS:
                raise MarkdownError(self.path, python[0].line, f"more than "
                                    f"{MAX_PATHS} reader paths through the tabs; "
                                    "use the same labels in every tab set")
        return paths


def language_of(name, page, line):
    """The language a fence names, as superfences reads it (`py`, `python`)."""
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


def parse(text, page, base=None):
    """Parse the Markdown `text` of `page` into a Page; raise MarkdownError.

    `base` is where `--8<--` snippets are read from (default: the folder of the
    mkdocs.yml above the page).
    """
    try:
        lexed = lex(text, page, base)
    except LexError as error:
        raise MarkdownError(page, error.line, str(error)) from None
    origin, lines = lexed.origin, lexed.raw
    starts = {fence.start: fence for fence in lexed.fences}
    blocks, pending = [], []
    skipfile = None
    last_python = None
    first = {}  # labels -> the first tab set with them: sets so alike are linked
    groups = {key: first.setdefault(tuple(labels), key)
              for key, labels in lexed.tab_sets.items()}
    tab_sets = {groups[key]: [_label(x) for x in labels]
                for key, labels in lexed.tab_sets.items()}
    index = 0
    while index < len(lines):
        fence = starts.get(index)
        if fence is None:
            raw, number = lines[index], origin[index]
            index += 1
            if not raw.strip():
                continue
            try:
                directive = parse_comment(QUOTE_PREFIX.sub("", raw), number)
            except DirectiveError as error:
                raise MarkdownError(page, number, str(error)) from None
            if directive and directive.short == "skipfile":
                if blocks or pending:
                    raise MarkdownError(page, number, "skipfile must come before "
                                        "the first code block of the page")
                skipfile = directive
            elif directive:
                pending.append(directive)
            elif pending:
                raise MarkdownError(page, pending[0].line, "a directive must be on "
                                    "the line just before a code fence")
            continue
        index = fence.end + 1
        start = origin[fence.start]
        if fence.shown == "unclosed":
            raise MarkdownError(page, start, f"unclosed code fence {fence.marker}; "
                                f"close it with {fence.marker} at the same "
                                "indentation")
        if fence.shown == "abandoned":
            raise MarkdownError(page, origin[fence.end], "this line ends the code "
                                f"fence opened at line {start} without closing it "
                                "(it is indented less than the fence, or its quote "
                                "marks differ), so the page shows no code; indent "
                                f"it like the fence or close the fence with "
                                f"{fence.marker} first")
        if fence.shown != "code":
            if pending:
                where = ("inside an HTML comment" if fence.shown == "comment" else
                         "shown as text inside an indented code block")
                raise MarkdownError(page, pending[0].line, "a directive must be on "
                                    "the line just before a code fence; the fence at "
                                    f"line {start} is {where}")
            continue
        expected = any(d.short == "expected-output" for d in pending)
        lang = "output" if expected and not fence.lang else \
            language_of(fence.lang, page, start)
        block = Block(page, start, lang, fence.code[:-1], fence.prefix,
                      origin[fence.end],
                      _label(fence.tabs[0][1]) if fence.tabs else None,
                      directives=pending,
                      tabs=[(groups[key], _label(label)) for key, label in fence.tabs],
                      info=fence.lang, solution=fence.solution)
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
    return Page(page, blocks, skipfile, tab_sets)


def _label(label):
    """A tab label as readers see it: Markdown backslash escapes removed."""
    return ESCAPED.sub(r"\1", label)
