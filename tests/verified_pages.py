"""MkDocs hooks: stamp each page with its last test run, and offer its downloads.

The stamp comes from the results file the test run writes (mdrun.results), never
from the build environment. The downloads (a .py script and a .ipynb notebook per
reader path) come from the runner's own parse (mdrun.export).
"""

import posixpath
from pathlib import Path

from mdrun import export, results
from mdrun.markdown import parse
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent


def _pages(files):
    for file in files.documentation_pages():
        if file.src_uri.endswith(".md"):
            page = f"docs/{file.src_uri}"
            yield file, parse(Path(file.abs_src_path).read_text(encoding="utf-8"), page)


def on_files(files, config):
    """Generate downloads/<page>[-<path>].py and .ipynb for every reader path."""
    for _, page in list(_pages(files)):
        for label, _ in page.reader_paths():
            name = export.download_name(page.path, label)
            files.append(File.generated(config, f"{name}.py",
                                        content=export.script(page, label)))
            files.append(File.generated(config, f"{name}.ipynb",
                                        content=export.notebook(page, label)))
    return files


def stamp(page, text, src_uri):
    """The Markdown box shown under a page's title: stamp, then downloads."""
    record = results.load(ROOT).get(page.path)
    verified, sentence = results.verdict(record, text)
    links = []
    for label, _ in page.reader_paths():
        target = posixpath.relpath(export.download_name(page.path, label),
                                   posixpath.dirname(src_uri) or ".")
        base = posixpath.basename(target)
        pair = (f'[notebook (.ipynb)]({target}.ipynb){{ download="{base}.ipynb" }} · '
                f'[script (.py)]({target}.py){{ download="{base}.py" }}')
        links.append(f"**{label}**: {pair}" if label else pair)
    kind, title = ("success", "Verified") if verified else ("warning", "Not verified")
    body = sentence + "\n\nDownload what was tested: " \
        + "; ".join(links)
    indented = "\n".join("    " + line if line else "" for line in body.split("\n"))
    return f'!!! {kind} "{title}"\n\n{indented}\n'


def on_page_markdown(markdown, page, config, files):
    if not page.file.src_uri.endswith(".md"):
        return markdown
    parsed = parse(markdown, f"docs/{page.file.src_uri}")
    if not parsed.reader_paths():
        return markdown
    box = stamp(parsed, Path(page.file.abs_src_path).read_text(encoding="utf-8"),
                page.file.src_uri)
    lines = markdown.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    at = first + 1 if lines[first].startswith("# ") else first
    return "\n".join(lines[:at] + ["", box] + lines[at:])
