"""Turn a page's reader paths into a script and a notebook: the page as it was tested.

The build offers these as downloads. They come from the same parse and the same
reader paths as the tests, so a download holds exactly the code that was tested,
with the page's prose around it: Markdown cells in the notebook, comments in the
script, and the outputs the page shows (which the test run compared) as the
notebook's outputs. Prose inside content tabs of another reader path is left out.
A block a skip directive keeps from running is kept as comments, saying why, and
so is an exercise's solution, which the tests run in a throwaway copy of the
session (a script cannot), so the code after it runs as tested. Blocks with
conditions (skipif, importorskip, xfail) are kept as code, since the reader's
machine decides them as the test run's did.
"""

import re

from .directives import skip_reason
from .markdown import Page

TAB = re.compile(r'^(?P<indent>[ \t]*)===[+!]*[ \t]+"(?P<label>(?:[^"\\]|\\.)*)"')
ADMONITION = re.compile(r"^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)"
                        r'(?:[ \t]+"(?P<title>[^"]*)")?')
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
HEADING = re.compile(r"^(#{1,6})[ \t]+(?P<title>.*)$")


def slug(label):
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def download_name(page_path, label):
    """downloads/<page>[-<label>], without a suffix."""
    stem = page_path.removeprefix("docs/").removesuffix(".md").replace("/", "-")
    return f"downloads/{stem}" + (f"-{slug(label)}" if label else "")


def _width(line):
    return len(line) - len(line.lstrip(" \t"))


def _prose(text, page: Page, label):
    """{page line: prose line} of what a reader of path `label` reads.

    Python blocks and their outputs are left out (they become cells), as are HTML
    comments (directives), tabs of other paths, and tab markers. Admonition titles
    become bold lines, and container indentation is removed.
    """
    lines = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text).split("\n")
    if lines[0].strip() == "---" and "---" in (row.strip() for row in lines[1:]):
        end = next(i for i, row in enumerate(lines) if i and row.strip() == "---")
        lines[:end + 1] = [""] * (end + 1)  # YAML front matter: not prose
    code = set()  # the lines of Python blocks and of their outputs
    for block in page.blocks:
        if block.kind == "python":
            code.update(range(block.line, block.end + 1))
        if block.output is not None:
            code.update(range(block.output.line, block.output.end + 1))
    chosen = set(label.split(" / ")) if label else set()
    offered = {name for labels in page.tab_sets.values() for name in labels}
    kept, containers = {}, []  # containers: [(marker indent, keep its content?)]
    for number, line in enumerate(lines, start=1):
        if line.strip():
            while containers and _width(line) <= containers[-1][0]:
                containers.pop()
        if containers and not containers[-1][1]:
            continue
        dedent = 4 * len(containers)
        tab, admonition = TAB.match(line), ADMONITION.match(line)
        if tab:
            name = tab["label"].replace('\\"', '"')
            keep = name in chosen or not (chosen & offered)
            containers.append((_width(line), keep and all(k for _, k in containers)))
            if keep and not chosen:
                kept[number] = f"**{name}**"
            continue
        if admonition:
            containers.append((_width(line), True))
            kept[number] = f"**{admonition['title'] or admonition['kind'].title()}**"
            continue
        if number not in code:
            kept[number] = line[min(dedent, _width(line)):]
    return kept


def _chunks(text, page: Page, label, blocks):
    """[(prose before it, block)] for the path's blocks, then (trailing prose, None)."""
    prose = _prose(text, page, label)
    chunks, start = [], 0
    for block in [*blocks, None]:
        stop = block.line if block is not None else max(prose, default=0) + 1
        words = "\n".join(v for k, v in sorted(prose.items()) if start <= k < stop)
        chunks.append((re.sub(r"\n{3,}", "\n\n", words).strip("\n"), block))
        if block is not None:
            start = (block.output or block).end + 1
    return chunks


def _code(block, page_path):
    """The block's code as a download runs it: commented out if the runner does not
    run it, with the reason."""
    code = block.code.rstrip("\n")
    held = skip_reason(block.directives, page_path)
    if held is not None:
        note = f"# Not run by the tests: {held}"
    elif block.solution:
        note = ("# A solution: the tests run it in a copy of the session, so nothing "
                "after it sees what it does.\n# Uncomment it to run it here.")
    else:
        return code
    return note + "\n" + "\n".join(("# " + line).rstrip() for line in code.split("\n"))


def _as_comment(prose):
    rows = []
    for line in prose.split("\n"):
        heading = HEADING.match(line)
        rows.append(f"# {heading['title']}" if heading else f"# {line}".rstrip())
    return "\n".join(rows)


def script(page: Page, text, label):
    """The reader path as a Python script that runs in an empty folder, with the
    page's prose as comments."""
    blocks = dict(page.reader_paths()).get(label, [])
    parts = []
    for prose, block in _chunks(text, page, label, blocks):
        if prose:
            parts.append(_as_comment(prose))
        if block is not None:
            parts.append(_code(block, page.path))
    return "\n\n".join(parts) + "\n"


def notebook(page: Page, text, label):
    """The reader path as a Jupyter notebook (nbformat 4): the page's prose as
    Markdown cells, each block as a code cell with the output the page shows."""
    import nbformat

    blocks = dict(page.reader_paths()).get(label, [])
    nb = nbformat.v4.new_notebook()
    for prose, block in _chunks(text, page, label, blocks):
        if prose:
            nb.cells.append(nbformat.v4.new_markdown_cell(prose))
        if block is None:
            continue
        cell = nbformat.v4.new_code_cell(_code(block, page.path))
        if block.output is not None and block.output.code.strip():
            cell.outputs = [nbformat.v4.new_output(
                "stream", name="stdout", text=block.output.code)]
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nbformat.writes(nb)
