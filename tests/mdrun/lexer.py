"""Find the fenced code blocks a built page shows, by the site's Markdown grammar.

Raw syntax only: which lines are fences, what each says, and where it sits. What a
block means (languages, directives, reader paths) is markdown.py's job.

The site builds pages with Python-Markdown and pymdownx.superfences (mkdocs.yml).
This module follows their steps, and each rule below was checked by rendering
(tests/runner/test_html_oracle.py compares it with the HTML of every corpus page):

1. snippets: `--8<-- "file"` lines are replaced by the file, as pymdownx.snippets
   does (check_paths: true, base path: the folder holding mkdocs.yml), before
   anything else; included lines keep the page line of their `--8<--` line.
2. Lines are the page's text split at "\\n" only (a trailing "\\r" is dropped, so
   CRLF pages read the same); tabs expand to 4 columns; blank lines are empty.
3. superfences scans lines: after any run of ">", spaces and tabs, three or more
   backticks or tildes open a fence when the info string is empty, a language
   (`python`, `.python`, `py`, `python3`), a language and options that
   superfences knows (`title="a.py"`, `hl_lines="2 3"`, `linenums="1"`), or an
   attribute list (`{.python .annotate}`). Anything else (`python # note`,
   `python foo="bar"`) is not a fence. A fence closes at a line holding the very
   same run of characters (not a longer or shorter one) at the same indentation,
   followed by nothing but spaces; a non-blank line indented less than the opening
   fence abandons it (nothing is shown and scanning goes on after that line), and
   a fence never closed is not a fence. Inside `>` quotes, every line must keep the
   quote marks of the opening line.
4. HTML comments hide fences: a `<!--` at most 3 spaces into a line, outside a
   fence, opens a comment that runs to the next `-->` (across blank lines); a
   `<!--` elsewhere hides a fence only when `-->` follows in the same paragraph.
   A `<!--` that is never closed hides nothing. Raw HTML blocks (`<div>`) show
   the fences inside them; `<div markdown>` is read as Markdown.
5. Python-Markdown's block parser then decides what is an indented code block:
   a paragraph-level block starting with 4 spaces *relative to its container*
   (admonition `!!!`, details `???`/`???+`, content tab `===`, list item, block
   quote, footnote) is indented code, and every fence inside that block is shown
   as text, not as code.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown import blockprocessors
from markdown.extensions import admonition, footnotes
from pymdownx import details, superfences, tabbed

TAB_LENGTH = 4
PREFIX_CHARS = (">", " ", "\t")

# The patterns of the installed extensions themselves, so the runner reads fences,
# options and blocks exactly as the pinned versions render them.
FENCE_START = superfences.RE_NESTED_FENCE_START
OPTION = superfences.RE_OPTIONS
HL_LINES = superfences.RE_HL_LINES
LINENUMS = superfences.RE_LINENUMS
ADMONITION = admonition.AdmonitionProcessor.RE
DETAILS = details.DetailsProcessor.START
TABBED = tabbed.TabbedProcessor.START
FOOTNOTE = footnotes.FootnoteBlockProcessor.RE
HEADER = blockprocessors.HashHeaderProcessor.RE
SETEXT = blockprocessors.SetextHeaderProcessor.RE
HR = re.compile(blockprocessors.HRProcessor.RE, re.MULTILINE)
OL_START = re.compile(r'^[ ]{0,3}\d+\.[ ]+(.*)')
UL_START = re.compile(r'^[ ]{0,3}[*+-][ ]+(.*)')
OL_CHILD = re.compile(r'^[ ]{0,3}((\d+\.))[ ]+(.*)')
UL_CHILD = re.compile(r'^[ ]{0,3}(([*+-]))[ ]+(.*)')
LIST_INDENT = re.compile(r'^[ ]{4,7}((\d+\.)|[*+-])[ ]+.*')
QUOTE = re.compile(r'(^|\n)[ ]{0,3}>[ ]?(.*)')
QUOTE_CLEAN = re.compile(r'^[ ]{0,3}>[ ]?(.*)')
INDENT = re.compile(r'^(([ ]{4})+)')
HTML_OPEN = re.compile(r'^[ ]{0,3}<(?P<tag>[a-zA-Z][a-zA-Z0-9]*)(?P<attrs>[^>]*)>')
BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl",
    "fieldset", "figure", "footer", "form", "header", "main", "nav", "ol", "p",
    "pre", "section", "table", "ul", "center", "figcaption", "hgroup", "summary",
}
PLACEHOLDER = re.compile("^(?P<lead>[> ]*)\x02(?P<key>[0-9]+)\x03$")
COMMENT_INLINE = re.compile(r"<!--(?:(?!<!--|-->).)*?-->", re.DOTALL)


class LexError(Exception):
    """Bad input the lexer cannot read; `line` is the page's 1-based line."""

    def __init__(self, line, message):
        super().__init__(message)
        self.line = line


@dataclass
class Fence:
    """A fence superfences accepted, with where it sits and whether it is shown."""

    start: int  # index of the opening line in the lexed lines
    end: int  # index of the closing line
    prefix: str  # the opening line's prefix: spaces and quote marks
    marker: str  # the run of backticks or tildes
    lang: str  # as superfences reads it: `py`, `python`, or "" for none
    info: str  # the whole opening line after the marker
    code: str  # the content as superfences hands it to the highlighter
    shown: str = "code"  # "code", "text" (inside indented code) or "comment"
    tabs: list = field(default_factory=list)  # [(tab set, label)], outermost first
    solution: bool = False  # inside an admonition or details titled "Solution"


@dataclass
class Indented:
    """An indented code block as the page shows it (text only, for the oracle)."""

    first: int  # index of its first line
    text: str


@dataclass
class Lexed:
    lines: list  # the lexed lines (after snippets and normalisation)
    origin: list  # origin[i]: the page's 1-based line of lexed line i
    raw: list  # raw[i]: lexed line i before tab expansion, without "\r"
    fences: list  # [Fence] in page order, shown or not
    indented: list  # [Indented]
    tab_sets: dict  # tab set number -> its labels, in order


def split_lines(text):
    """The page's lines: split at "\\n" only, a trailing "\\r" dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# --- snippets -------------------------------------------------------------------

def _snippets(base):
    from markdown import Markdown
    from pymdownx.snippets import SnippetExtension, SnippetPreprocessor

    config = SnippetExtension(check_paths=True, base_path=[str(base)]).getConfigs()
    processor = SnippetPreprocessor(config, Markdown())
    processor.seen, processor.bases, processor.failed = set(), None, set()
    return processor


def config_dir(page):
    """The folder holding the mkdocs.yml above `page`, else the working folder."""
    here = Path(page).resolve().parent
    for folder in (here, *here.parents):
        if (folder / "mkdocs.yml").is_file():
            return folder
    return Path.cwd()


def expand_snippets(lines, base):
    """Replace `--8<--` lines by what they include: (lines, origins)."""
    if not any("8<" in line for line in lines):
        return lines, list(range(1, len(lines) + 1))
    processor = _snippets(base)
    out, origin, group, opened = [], [], [], None
    for number, line in enumerate(lines, 1):
        marker = processor.RE_ALL_SNIPPETS.match(line)
        block = marker and not marker["escape"] and not marker["inline_marker"]
        if opened is None and not block and not (
                marker or (processor.match_section(line) if "8<-" in line else None)):
            out.append(line)
            origin.append(number)
            continue
        group.append(line)
        if block and opened is None:
            opened = number
            continue
        if block or opened is None:
            start = opened or number
            try:
                expanded = processor.parse_snippets(group)
            except Exception as error:  # noqa: BLE001 - snippets raises several kinds
                raise LexError(start, f"{error} (snippets read files under {base}; "
                               "fix the path or escape the line as ;--8<--)") from None
            out += expanded
            origin += [start] * len(expanded)
            group, opened = [], None
    if opened is not None:
        raise LexError(opened, "a --8<-- snippet block is never closed; end it with "
                       "a --8<-- line")
    return out, origin


# --- superfences ----------------------------------------------------------------

def _accepts(match):
    """Whether superfences (with pymdownx.highlight) accepts this info string."""
    if match["unrecognized"]:
        return False
    if match["attrs"] is not None:
        return True
    for option in OPTION.finditer(match["options"] or ""):
        key, value = option["key"], option["value"]
        value = key if value is None else value
        if key == "hl_lines" and HL_LINES.match(value):
            continue
        if key == "linenums" and LINENUMS.match(value):
            continue
        if key in ("title", "title_mode"):
            continue
        return False
    return True


def _lang(match):
    if match["lang"]:
        return match["lang"]
    if match["attrs"] is not None:
        classes = re.findall(r"(?:^|\s)\.([^\s{}=]+)", match["attrs"])
        return classes[0] if classes else ""
    return ""


def _prefix(line):
    """The run of ">", spaces and tabs a line starts with."""
    width = 0
    while width < len(line) and line[width] in PREFIX_CHARS:
        width += 1
    return line[:width]


def _split(line, width):
    """Split off up to `width` columns of prefix characters, as superfences does."""
    taken = 0
    while taken < len(line) and taken < width and line[taken] in PREFIX_CHARS:
        taken += 1
    return line[:taken], line[taken:]


def scan_fences(lines):
    """The fences superfences finds in the (tab-expanded) lines, in order."""
    fences = []
    number = 0
    while number < len(lines):
        line = lines[number]
        prefix = _prefix(line)
        match = FENCE_START.match(line, len(prefix))
        number += 1
        if not match or not _accepts(match):
            continue
        start = number - 1
        width, quotes, marker = len(prefix), prefix.count(">"), match["fence"]
        closing = re.compile(re.escape(marker) + r"[ \t]*$")
        content, blank, fate = [], 0, "unclosed"
        while number < len(lines):
            ws, rest = _split(lines[number], width)
            number += 1
            if quotes:
                level = ws.count(">")
                if level > quotes:
                    fate = "abandoned"
                    break
                if rest == "":
                    content.append(ws + rest)
                    blank += 1
                    continue
                if len(ws) < width or (blank and level < quotes):
                    fate = "abandoned"
                    break
                if closing.match(rest):
                    fate = "code"
                    break
            else:
                if ws.count(">"):
                    fate = "abandoned"
                    break
                if (ws + rest).strip() == "":
                    content.append(ws + rest)
                    continue
                if len(ws) != width and rest != "":
                    fate = "abandoned"
                    break
                if closing.match(rest) and not rest.startswith((" ", "\t")):
                    fate = "code"
                    break
            blank = 0
            content.append(ws + rest)
        fence = _fence(lines, start, number - 1, prefix, marker, match, content)
        fence.shown = fate  # "code", or "unclosed"/"abandoned": not shown as code
        fences.append(fence)
    return fences


def _fence(lines, start, end, prefix, marker, match, content):
    code = "\n".join(line[len(prefix):] for line in content)
    return Fence(start, end, prefix, marker, _lang(match),
                 lines[start][len(prefix) + len(marker):],
                 code + "\n" if content else "\n")


# --- the block structure --------------------------------------------------------

def is_solution_title(title):
    """An exercise's solution: an admonition or details block titled "Solution"."""
    return title is not None and title.strip().casefold() == "solution"


class Node:
    def __init__(self, kind, parent=None, label=None):
        self.kind, self.children, self.label, self.text = kind, [], label, ""
        self.parent = parent
        if parent is not None:
            parent.children.append(self)

    def last(self):
        return self.children[-1] if self.children else None


class Structure:
    """Python-Markdown's block parser, reduced to what decides a fence's fate."""

    def __init__(self, fences, lines):
        self.fences, self.lines = fences, lines
        self.state = []
        self.indented = []
        self.tab_sets = {}

    # helpers
    def detab(self, text, length=TAB_LENGTH):
        kept, lines = [], text.split("\n")
        for line in lines:
            if line.startswith(" " * length):
                kept.append(line[length:])
            elif not line.strip():
                kept.append("")
            else:
                break
        return "\n".join(kept), "\n".join(lines[len(kept):])

    def chunk(self, parent, text):
        self.blocks(parent, text.split("\n\n"))

    def keys(self, text):
        return [int(m["key"]) for m in
                (PLACEHOLDER.match(line) for line in text.split("\n")) if m]

    def mark(self, text, parent):
        """Record the tab path of the fences whose placeholders are in `text`."""
        tabs, node, solution = [], parent, False
        while node is not None:
            if node.kind == "tab":
                tabs.insert(0, (node.parent.label, node.label))
            solution = solution or node.kind in ("admonition", "details") and \
                is_solution_title(node.label)
            node = node.parent
        for key in self.keys(text):
            self.fences[key].tabs = tabs
            self.fences[key].solution = solution

    def blocks(self, parent, blocks):
        while blocks:
            for processor in (self.empty, self.container, self.list_indent, self.code,
                              self.header, self.setext, self.hr, self.olist,
                              self.ulist, self.quote, self.footnote, self.paragraph):
                if processor(parent, blocks):
                    break

    # processors, in Python-Markdown's priority order; each returns True if it ran
    def empty(self, parent, blocks):
        block = blocks[0]
        if block and not block.startswith("\n"):
            return False
        blocks.pop(0)
        if block[1:]:
            blocks.insert(0, block[1:])
        return True

    def container(self, parent, blocks):
        """admonition, details and content tabs (priority 105, in that order)."""
        block = blocks[0]
        for kind, start in (("admonition", ADMONITION), ("details", DETAILS),
                            ("tabs", TABBED)):
            match = start.search(block)
            if match:
                blocks.pop(0)
                if match.start() > 0:
                    self.blocks(parent, [block[:match.start()]])
                content, rest = self.detab(block[match.end():])
                if kind == "tabs":
                    special = match[1] or ""
                    sibling = parent.last()
                    if sibling is None or sibling.kind != "tabs" or "!" in special:
                        sibling = Node("tabs", parent, label=len(self.tab_sets) + 1)
                        self.tab_sets[sibling.label] = []
                    node = Node("tab", sibling, label=match[2])
                    self.tab_sets[sibling.label].append(match[2])
                else:  # with its title, to tell an exercise's solution
                    node = Node(kind, parent,
                                label=match[2] if kind == "admonition" else match[3])
                self.chunk(node, content)
                if rest:
                    blocks.insert(0, rest)
                return True
            found = self.sibling(parent, block, kind)
            if found:
                blocks.pop(0)
                node, indent = found
                content, rest = self.detab(block, indent)
                if node.kind == "li" and node.text:
                    node.text = ""
                self.chunk(node, content)
                if rest:
                    blocks.insert(0, rest)
                return True
        return False

    def sibling(self, parent, block, kind):
        """The container a 4-space block continues (parse_content), with its indent."""
        sibling = parent.last()
        if sibling is None or sibling.kind != kind:
            return None
        if kind == "tabs":
            sibling = sibling.last()
        last, indent, text = sibling.last(), 0, block
        while last is not None:
            if text.startswith(" " * TAB_LENGTH * 2) and last.kind in ("ul", "ol"):
                sibling = last.last()
                last = sibling.last() if sibling is not None else None
                text = text[TAB_LENGTH:]
                indent += TAB_LENGTH
            else:
                last = None
        if sibling is None or not text.startswith(" " * TAB_LENGTH):
            return None
        return sibling, indent + TAB_LENGTH

    def list_indent(self, parent, blocks):
        block = blocks[0]
        if not block.startswith(" " * TAB_LENGTH) or (self.state and
                                                   self.state[-1] == "detabbed"):
            return False
        if not (parent.kind == "li" or (parent.last() is not None and
                                        parent.last().kind in ("ul", "ol"))):
            return False
        blocks.pop(0)
        match = INDENT.match(block)
        depth = len(match[1]) // 4 if match else 0
        level = 1 if self.state and self.state[-1] == "list" else 0
        sibling = parent
        while depth > level:
            child = sibling.last()
            if child is not None and child.kind in ("ul", "ol", "li"):
                if child.kind in ("ul", "ol"):
                    level += 1
                sibling = child
            else:
                break
        width = TAB_LENGTH * level
        block = "\n".join(line[width:] if line.startswith(" " * width) else line
                          for line in block.split("\n"))
        self.state.append("detabbed")
        if parent.kind == "li":
            target = parent.last() if (parent.last() is not None and
                                       parent.last().kind in ("ul", "ol")) else parent
            self.blocks(target, [block])
        elif sibling.kind == "li":
            self.blocks(sibling, [block])
        elif sibling.last() is not None and sibling.last().kind == "li":
            self.chunk(sibling.last(), block)
        else:
            self.chunk(Node("li", sibling), block)
        self.state.pop()
        return True

    def code(self, parent, blocks):
        block = blocks[0]
        if not block.startswith(" " * TAB_LENGTH):
            return False
        blocks.pop(0)
        for key in self.keys(block):
            self.fences[key].shown = "text"
        reverted = []
        for line in block.split("\n"):
            match = PLACEHOLDER.match(line)
            if match:
                fence = self.fences[int(match["key"])]
                cut = len(fence.prefix) - len(match["lead"])
                reverted += [text[cut:] for text in
                             self.lines[fence.start:fence.end + 1]]
            else:
                reverted.append(line)
        content, rest = self.detab("\n".join(reverted))
        sibling = parent.last()
        if sibling is not None and sibling.kind == "pre":
            sibling.text += "\n\n" + content
        else:
            node = Node("pre", parent)
            node.text = content
            self.indented.append(node)
        if rest:
            blocks.insert(0, rest)
        return True

    def _split_at(self, parent, blocks, match, keep_line=False):
        block = blocks.pop(0)
        before, after = block[:match.start()], block[match.end():]
        if before:
            self.blocks(parent, [before])
        Node("line", parent)
        if after:
            blocks.insert(0, after.lstrip("\n") if not keep_line else after)
        return True

    def header(self, parent, blocks):
        match = HEADER.search(blocks[0])
        return bool(match) and self._split_at(parent, blocks, match)

    def setext(self, parent, blocks):
        match = SETEXT.match(blocks[0])
        return bool(match) and self._split_at(parent, blocks, match)

    def hr(self, parent, blocks):
        match = HR.search(blocks[0])
        if not match:
            return False
        block = blocks.pop(0)
        before = block[:match.start()].rstrip("\n")
        after = block[match.end():].lstrip("\n")
        if before:
            self.blocks(parent, [before])
        Node("line", parent)
        if after:
            blocks.insert(0, after)
        return True

    def olist(self, parent, blocks):
        return self._list(parent, blocks, "ol", OL_START, OL_CHILD)

    def ulist(self, parent, blocks):
        return self._list(parent, blocks, "ul", UL_START, UL_CHILD)

    def _list(self, parent, blocks, kind, start, child):
        if not start.match(blocks[0]):
            return False
        items = []
        for line in blocks.pop(0).split("\n"):
            match = child.match(line)
            if match:
                items.append(match[3])
            elif LIST_INDENT.match(line):
                if items[-1].startswith(" " * TAB_LENGTH):
                    items[-1] += "\n" + line
                else:
                    items.append(line)
            else:
                items[-1] += "\n" + line
        sibling = parent.last()
        if sibling is not None and sibling.kind in ("ol", "ul"):
            lst = sibling
            self.state.append("looselist")
            self.blocks(lst.last(), [items.pop(0)])
            self.state.pop()
        elif parent.kind in ("ol", "ul"):
            lst = parent
        else:
            lst = Node(kind, parent)
        self.state.append("list")
        for item in items:
            if item.startswith(" " * TAB_LENGTH):
                self.blocks(lst.last(), [item])
            else:
                li = Node("li", lst)
                li.text = "item"
                self.blocks(li, [item])
        self.state.pop()
        return True

    def quote(self, parent, blocks):
        match = QUOTE.search(blocks[0])
        if not match:
            return False
        block = blocks.pop(0)
        before = block[:match.start()]
        if before:
            self.blocks(parent, [before])
        lines = []
        for line in block[match.start():].lstrip("\n").split("\n"):
            clean = QUOTE_CLEAN.match(line)
            lines.append(clean[1] if clean else line)
        sibling = parent.last()
        node = sibling if sibling is not None and sibling.kind == "quote" else \
            Node("quote", parent)
        self.state.append("blockquote")
        self.chunk(node, "\n".join(lines))
        self.state.pop()
        return True

    def footnote(self, parent, blocks):
        match = FOOTNOTE.search(blocks[0])
        if not match:
            return False
        block = blocks.pop(0)
        before, after = block[:match.start()], block[match.end():]
        if before:
            self.blocks(parent, [before.rstrip("\n")])
        content, rest = self.detab(after.lstrip("\n"))
        # later blocks indented by 4 spaces continue the footnote
        while blocks and (not blocks[0].strip() or
                          blocks[0].startswith(" " * TAB_LENGTH)) and not rest:
            more, rest = self.detab(blocks.pop(0))
            content += "\n\n" + more
        self.chunk(Node("footnote", parent), match[2] + "\n" + content)
        if rest:
            blocks.insert(0, rest)
        return True

    def paragraph(self, parent, blocks):
        block = blocks.pop(0)
        if not (self.state and self.state[-1] == "list"):
            Node("p", parent)  # in a tight list item the text is the item's own
        hidden = set()
        for comment in COMMENT_INLINE.finditer(block):
            hidden.update(self.keys(comment.group()))
        for key in hidden:
            self.fences[key].shown = "comment"
        for line in block.split("\n"):
            match = PLACEHOLDER.match(line.strip())
            if match and int(match["key"]) not in hidden:
                self.mark(match.group(), parent)
        return True


# --- HTML blocks, before the block parser ----------------------------------------

def _html_blocks(collapsed, fences):
    """Hide fences in block-level comments and keep raw HTML blocks opaque.

    Returns the lines the block parser reads: raw HTML becomes a plain paragraph
    line that shows the fences inside it; `<div markdown>` keeps its content.
    """
    out, number = [], 0
    while number < len(collapsed):
        line = collapsed[number]
        stripped = line.lstrip(" ")
        if len(line) - len(stripped) <= 3 and stripped.startswith("<!--"):
            end = _comment_end(collapsed, number, stripped)
            if end is not None:
                for text in collapsed[number:end + 1]:
                    match = PLACEHOLDER.match(text.strip())
                    if match:
                        fences[int(match["key"])].shown = "comment"
                tail = collapsed[end].split("-->", 1)[1] if end > number else \
                    stripped.split("-->", 1)[1]
                out.append(tail if tail.strip() else "")
                out += [""] * (end - number)
                number = end + 1
                continue
        match = HTML_OPEN.match(line)
        if match and match["tag"].lower() in BLOCK_TAGS:
            end = _tag_end(collapsed, number, match["tag"].lower())
            if end is not None:
                if re.search(r"\bmarkdown\b", match["attrs"]):
                    out.append("")
                    out += collapsed[number + 1:end]
                    out.append("")
                else:
                    for text in collapsed[number:end + 1]:
                        out.append(text.strip() if PLACEHOLDER.match(text.strip())
                                   else "html")
                number = end + 1
                continue
        out.append(line)
        number += 1
    return out


def _comment_end(lines, start, first):
    if "-->" in first[4:]:
        return start
    for number in range(start + 1, len(lines)):
        if "-->" in lines[number]:
            return number
    return None


def _tag_end(lines, start, tag):
    depth = 0
    opening = re.compile(rf"<{tag}\b", re.IGNORECASE)
    closing = re.compile(rf"</{tag}\s*>", re.IGNORECASE)
    for number in range(start, len(lines)):
        depth += len(opening.findall(lines[number]))
        depth -= len(closing.findall(lines[number]))
        if depth <= 0:
            return number
    return None


def lex(text, page=None, base=None):
    """Lex a page: its lines, where they come from, and every fence in it."""
    lines = split_lines(text)
    if base is None and page is not None and any("8<" in line for line in lines):
        base = config_dir(page)
    lines, origin = expand_snippets(lines, base or Path.cwd())
    raw = list(lines)
    lines = [line.expandtabs(TAB_LENGTH) for line in lines]
    lines = ["" if not line.strip(" \t") else line for line in lines]
    fences = scan_fences(lines)
    collapsed, number = [], 0
    for key, fence in enumerate(fences):
        if fence.shown != "code":
            continue
        collapsed += lines[number:fence.start]
        collapsed.append(f"{fence.prefix}\x02{key}\x03")
        number = fence.end + 1
    collapsed += lines[number:]
    structure = Structure(fences, lines)
    readable = _html_blocks(collapsed, fences)
    structure.chunk(Node("document"), "\n".join(readable))
    indented = [Indented(0, node.text) for node in structure.indented]
    return Lexed(lines, origin, raw, fences, indented, structure.tab_sets)

