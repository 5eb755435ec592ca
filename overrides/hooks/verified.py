"""MkDocs hooks: stamp each page with its last test run, and offer its downloads.

The stamp comes from the verification record that the test run writes and that is
committed beside the pages (docs/verified.json, read by mdrun.results), never from
the build environment; a record that cannot be read stops the build. The downloads
(a .py script and a .ipynb notebook per reader path) come from the runner's own
parse (mdrun.export).
"""

import html
import posixpath
from pathlib import Path

from mdrun import directives, export, results
from mdrun.markdown import parse
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

STAMP_ICONS = {"verified": ":material-check-decagram:", "changed": ":material-pencil:",
               "failed": ":material-alert:", "unverified": ":material-help-circle:"}


def _pages(files):
    """(text, parsed page) of every Markdown page."""
    for file in files.documentation_pages():
        if file.src_uri.endswith(".md"):
            text = Path(file.abs_src_path).read_text(encoding="utf-8")
            yield text, parse(text, f"docs/{file.src_uri}")


_record = {"records": {}, "lock": None}  # this build's record, read by on_config


def on_config(config):
    """Read the verification record once a build; a broken one stops the build."""
    root = Path(config.config_file_path).resolve().parent
    try:
        _record.update(records=results.load(root), lock=results.lock_hash(root))
    except results.RecordError as error:
        raise PluginError(str(error)) from None
    return config


def on_files(files, config):
    """Generate downloads/<page>[-<path>].py and .ipynb for every reader path."""
    for text, page in list(_pages(files)):
        for label, _ in page.reader_paths():
            name = export.download_name(page.path, label)
            files.append(File.generated(config, f"{name}.py",
                                        content=export.script(page, text, label)))
            files.append(File.generated(config, f"{name}.ipynb",
                                        content=export.notebook(page, text, label)))
    return files


def stamp(page, text, url):
    """The lines under a page's title: what verified it, any deprecation warnings
    it accepts, then its downloads, folded so the stamp stays short on a phone."""
    state, sentence = results.verdict(_record["records"].get(page.path), text,
                                      _record["lock"])
    links = []
    for label, _ in page.reader_paths():
        target = posixpath.relpath(export.download_name(page.path, label),
                                   url.rstrip("/") or ".")  # from the page's URL
        base = html.escape(posixpath.basename(target))
        pair = (f'<a href="{html.escape(target)}.ipynb" download="{base}.ipynb">'
                f'notebook</a> · <a href="{html.escape(target)}.py" '
                f'download="{base}.py">script</a>')
        links.append(f"{html.escape(label)}: {pair}" if label else pair)
    accepted = [f"<code>{html.escape(text).replace('`', '&#96;')}</code>"
                for text in dict.fromkeys(
                    directives.literal(arg) for block in page.blocks
                    for d in block.directives if d.short == "filterwarnings"
                    for arg in d.args)]
    warnings = (f"<br>\nAccepts {len(accepted)} deprecation warning"
                f"{'s' if len(accepted) > 1 else ''}, as the page explains: "
                + ", ".join(accepted)) if accepted else ""
    items = "".join(f"<li>{link}</li>" for link in links)
    return (f'<div class="stamp stamp--{state}" markdown>\n\n'
            f"{STAMP_ICONS[state]} {sentence}{warnings}\n\n"
            f"<details><summary>Download what was tested</summary><ul>{items}</ul>"
            "</details>\n\n</div>\n")


def on_page_markdown(markdown, page, config, files):
    if not page.file.src_uri.endswith(".md"):
        return markdown
    parsed = parse(markdown, f"docs/{page.file.src_uri}")
    if not parsed.reader_paths():
        return markdown
    box = stamp(parsed, Path(page.file.abs_src_path).read_text(encoding="utf-8"),
                page.url)
    lines = markdown.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    at = first + 1 if lines[first].startswith("# ") else first
    return "\n".join(lines[:at] + ["", box] + lines[at:])
