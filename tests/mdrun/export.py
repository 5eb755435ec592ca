"""Turn a page's reader paths into a script and a notebook: what the runner runs.

The build offers these as downloads. They come from the same parse and the same
reader paths as the tests, so a download holds exactly the code that was tested.
Blocks a directive keeps from running (skip, xfail) are kept as comments.
"""

import re

from .markdown import Page


def slug(label):
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def download_name(page_path, label):
    """downloads/<page>[-<label>], without a suffix."""
    stem = page_path.removeprefix("docs/").removesuffix(".md").replace("/", "-")
    return f"downloads/{stem}" + (f"-{slug(label)}" if label else "")


def _held_back(block):
    for directive in block.directives:
        if directive.short in ("skip", "skipif", "importorskip", "xfail"):
            return directive
    return None


def cells(page: Page, label):
    """[(block, code)] for one reader path; held-back blocks are commented out."""
    chosen = dict(page.reader_paths()).get(label, [])
    out = []
    for block in chosen:
        held = _held_back(block)
        code = block.code.rstrip("\n")
        if held:
            note = f"# Not run by the tests ({held.name} at {page.path}:{held.line}):"
            code = note + "\n" + "\n".join("# " + line for line in code.split("\n"))
        out.append((block, code))
    return out


def script(page: Page, label):
    """The reader path as a Python script that runs in an empty folder."""
    title = f"{page.path}" + (f", reader path {label!r}" if label else "")
    parts = [f"# {title}: the code blocks in order, exactly as tested.\n"]
    for block, code in cells(page, label):
        parts.append(f"# --- {page.path}, line {block.line} ---\n{code}\n")
    return "\n".join(parts)


def notebook(page: Page, label):
    """The reader path as a Jupyter notebook (nbformat 4), one cell per block."""
    import nbformat

    title = f"{page.path}" + (f", reader path {label!r}" if label else "")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(
        f"# {title}\n\nThe code blocks of the page in order, exactly as tested."))
    nb.cells += [nbformat.v4.new_code_cell(code) for _, code in cells(page, label)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nbformat.writes(nb)
