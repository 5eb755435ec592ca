"""MkDocs hooks: publish the example notebooks, executed, as pages under examples/.

Each examples/<name>.py (a jupytext percent script) becomes the page
examples/<name>.ipynb, rendered by mkdocs-jupyter from the executed copy that
notebook_executor.py (beside this file) keeps in .cache/notebooks/. An unchanged
notebook is not run again; a changed one runs once, here or in the tests, whichever
comes first. A notebook that raises, times out or shows a figure without alt text
stops the build with the script's file and line. Each page links its executed
.ipynb for download (mkdocs-jupyter's include_source copies it next to the page).
With NOTEBOOKS_CACHED_ONLY=1 set, the build never runs a notebook: a cache miss
fails it.
"""

import logging
import os
import re
from pathlib import Path

import mkdocs.plugins
import notebook_executor as notebooks  # beside this file; MkDocs adds it to sys.path
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.notebooks")
IMG = re.compile(r"<img\b[^>]*>")
PNG = re.compile(r'src="data:image/png;base64,([^"]+)"')
ALT = re.compile(r'\s+alt="[^"]*"')
REMOTE_SCRIPT = re.compile(
    r"<!-- Load mathjax -->.*?</script>\s*<!-- MathJax configuration -->\s*"
    r'<script type="text/x-mathjax-config">.*?</script>'
    r'|<script type="module">\s*document\.addEventListener\("DOMContentLoaded", '
    r"async \(\) => \{\s*const diagrams = .*?</script>",
    re.DOTALL,
)
SCROLLER = re.compile(r'<div class="highlight-ipynb')
RICH_PRE = re.compile(r'<pre (style="white-space:pre;overflow-x:auto)')
H1_END = re.compile(r"</h1>")
_published = {}  # src_uri -> (script, executed notebook)


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


@mkdocs.plugins.event_priority(50)  # before mkdocs-jupyter wraps the notebook files
def on_files(files, config):
    root = _root(config)
    cached_only = bool(os.environ.get("NOTEBOOKS_CACHED_ONLY"))
    _published.clear()
    for source in notebooks.sources(root):
        name = notebooks.display_name(source, root)
        if notebooks.cache_path(source, root).exists():
            log.info(f"{name}: rendering the executed notebook from the cache")
        elif not cached_only:
            log.info(f"{name}: not in the cache; running it (this takes a while)")
        try:
            path = notebooks.executed(source, root=root, execute=not cached_only)
        except notebooks.NotebookError as exc:
            raise PluginError(f"notebook failed, not publishing it:\n{exc}") from None
        src_uri = f"examples/{source.stem}.ipynb"
        # A real File (not File.generated): mkdocs-jupyter's wrapper needs src_dir.
        src_dir = str(path.parent.parent)
        files.append(File(src_uri, src_dir, config.site_dir, config.use_directory_urls))
        _published[src_uri] = (source, path)
    return files


def on_page_content(html, page, config, files):
    if page.file.src_uri not in _published:
        return html
    source, path = _published[page.file.src_uri]
    # nbconvert's template loads MathJax and Mermaid from a CDN; the site stays local.
    html = REMOTE_SCRIPT.sub("", html)
    if "cdnjs.cloudflare.com" in html:
        raise PluginError(f"{page.file.src_uri}: a remote script is left in the page")
    alts = notebooks.figure_alts(notebooks.read_notebook(path))

    def describe(match):
        tag = match.group(0)
        png = PNG.search(tag)
        if not png:
            return tag  # not an output figure: a Markdown image brings its own alt
        alt = alts.get("".join(png.group(1).split()))
        if not alt:
            raise PluginError(f"{page.file.src_uri}: a figure has no alt text")
        # nbconvert writes a placeholder alt; put the notebook's own in its place.
        return f'<img alt="{_escape(alt)}"' + ALT.sub("", tag)[len("<img") :]

    html = IMG.sub(describe, html)
    # Code that scrolls sideways must be reachable with the keyboard.
    html = SCROLLER.sub('<div tabindex="0" class="highlight-ipynb', html)
    html = RICH_PRE.sub(r'<pre tabindex="0" \1', html)
    name = f"{source.stem}.ipynb"
    link = (
        '<div class="admonition tip notebook-download">'
        '<p class="admonition-title">Run it yourself</p>'
        f'<p><a href="{name}" download>Download this notebook ({name})</a>, '
        "executed, with the outputs shown here. Its source is "
        f"<code>examples/{source.name}</code>, a "
        "<a href=\"https://jupytext.readthedocs.io/en/latest/formats-scripts.html\">"
        "jupytext percent script</a>.</p></div>"
    )
    # The download box goes right under the notebook's title.
    if H1_END.search(html):
        return H1_END.sub("</h1>" + link, html, count=1)
    return link + html


def on_serve(server, config, builder):
    server.watch(str(_root(config) / "examples"))


def _escape(text):
    return (
        text.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )
