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

The pages stay light: mkdocs-jupyter inlines all of JupyterLab's CSS (590 kB) into
each page, of which a notebook uses a few rules; only the rules that can match
the page are kept (see _compact_styles). Figures become files beside the page,
loaded as the reader scrolls to them, instead of base64 in the HTML.
"""

import base64
import hashlib
import logging
import os
import re
from pathlib import Path

import mkdocs.plugins
import notebook_executor as notebooks  # beside this file; MkDocs adds it to sys.path
import tinycss2  # nbconvert's CSS parser (through bleach[css])
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
PNG_SRC = re.compile(r'src="data:image/png;base64,([^"]+)"')
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
    html = IMG.sub(lambda match: _figure_file(match.group(0), page, config), html)
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


def _figure_file(tag, page, config):
    """Write an inline PNG figure to a file beside the page and point the tag at
    it: the HTML no longer carries it, and the browser fetches it when the reader
    scrolls near it (media.py makes every image lazy)."""
    png = PNG_SRC.search(tag)
    if not png:
        return tag
    data = base64.b64decode(png.group(1))
    name = f"figure-{hashlib.sha256(data).hexdigest()[:16]}.png"
    folder = Path(config.site_dir, page.file.dest_uri).parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return tag[: png.start()] + f'src="{name}"' + tag[png.end() :]  # lazy: media.py


def on_post_page(output, page, config):
    if page.file.src_uri not in _published:
        return output
    # mkdocs-jupyter appends its Pygments CSS as a Python list's repr, which no
    # browser reads as CSS; it only weighs the page down.
    output = DEAD_STYLE.sub("", output)
    return _compact_styles(output, config)


def on_serve(server, config, builder):
    server.watch(str(_root(config) / "examples"))


def _escape(text):
    return (
        text.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


# -- JupyterLab's CSS, cut down to what the page uses ---------------------------------

DEAD_STYLE = re.compile(r"<style>\s*\['.*?'\]\s*</style>\s*", re.DOTALL)
NOTEBOOK_STYLE = re.compile(r'<style type="text/css">(.*?)</style>\s*', re.DOTALL)
CLASS_ATTR = re.compile(r'\sclass="([^"]*)"')
# Selector parts left out when checking a selector's classes: the arguments of
# :not() and friends (a class there need not be on the page), attribute selectors.
SELECTOR_ARGS = re.compile(
    r":(?:not|is|where|has|matches|-webkit-any|-moz-any)\((?:[^()]|\([^()]*\))*\)")
ATTRIBUTE = re.compile(r"\[[^\]]*\]")
CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
# `.jupyter-wrapper :root` or `.jupyter-wrapper body` (JupyterLab's CSS, scoped by
# mkdocs-jupyter) can match nothing: the root is no one's descendant.
ROOT_INSIDE = re.compile(r"[\s>+~]\s*(?::root\b|(?:html|body)(?![\w-]))")
VAR = re.compile(r"var\(\s*(--[\w-]+)")
_site_vars = {}  # theme folders -> custom properties the site's own CSS reads


def _compact_styles(output, config):
    """Replace the page's inlined JupyterLab style sheets by one <style> with the
    rules that can apply: a selector stays when every class it names is on the page
    (or is Material's, md-*, which its script may add), and a custom property stays
    when something reads it. The cascade is unchanged: the rules keep their order
    and their place after the site's own CSS."""
    blocks = list(NOTEBOOK_STYLE.finditer(output))
    if not blocks:
        return output
    css = "\n".join(block.group(1) for block in blocks)
    rest = NOTEBOOK_STYLE.sub("", output)
    classes = {c for attr in CLASS_ATTR.findall(rest) for c in attr.split()}
    rules = _kept_rules(tinycss2.parse_stylesheet(css, True, True), classes)
    read = set(VAR.findall(rest)) | _site_custom_properties(config)
    while True:  # a kept property may read others
        before = len(read)
        for decl in _declarations(rules):
            if not decl.name.startswith("--") or decl.name in read:
                read.update(VAR.findall(tinycss2.serialize(decl.value)))
        if len(read) == before:
            break
    style = f'<style type="text/css">{_serialize(rules, read)}</style>'
    start = blocks[0].start()
    return output[:start] + style + NOTEBOOK_STYLE.sub("", output[start:])


def _can_match(selector, classes):
    plain = ATTRIBUTE.sub("", SELECTOR_ARGS.sub("", selector))
    if ROOT_INSIDE.search(plain):
        return False
    if "\\" in plain:  # an escaped class name: keep it rather than parse it
        return True
    return all(c in classes or c.startswith("md-") for c in CLASS.findall(plain))


def _selectors(prelude):
    parts = [[]]
    for token in prelude:
        if token.type == "literal" and token.value == ",":
            parts.append([])
        else:
            parts[-1].append(token)
    return [tinycss2.serialize(part).strip() for part in parts]


def _kept_rules(rules, classes):
    """[("rule", selectors, declarations) | ("group", "@media ...", rules) |
    ("raw", text)] for the rules that can apply."""
    kept = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = [s for s in _selectors(rule.prelude) if _can_match(s, classes)]
            if selectors:
                body = tinycss2.parse_blocks_contents(rule.content, True, True)
                kept.append(("rule", ",".join(selectors),
                             [d for d in body if d.type == "declaration"]))
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("media", "supports"):
            body = tinycss2.parse_rule_list(rule.content or [], True, True)
            inner = _kept_rules(body, classes)
            if inner:
                prelude = tinycss2.serialize(rule.prelude).strip()
                kept.append(("group", f"@{rule.at_keyword} {prelude}", inner))
        elif rule.type == "at-rule" and rule.lower_at_keyword != "charset":
            kept.append(("raw", tinycss2.serialize([rule])))  # @keyframes
    return kept


def _declarations(rules):
    for rule in rules:
        if rule[0] == "rule":
            yield from rule[2]
        elif rule[0] == "group":
            yield from _declarations(rule[2])


def _serialize(rules, read):
    out = []
    for rule in rules:
        if rule[0] == "raw":
            out.append(rule[1])
        elif rule[0] == "group":
            inner = _serialize(rule[2], read)
            if inner:
                out.append(f"{rule[1]}{{{inner}}}")
        else:
            decls = [
                f"{d.name}:{tinycss2.serialize(d.value).strip()}"
                + ("!important" if d.important else "")
                for d in rule[2] if not d.name.startswith("--") or d.name in read
            ]
            if decls:
                out.append(f"{rule[1]}{{{';'.join(decls)}}}")
    return "".join(out)


def _site_custom_properties(config):
    """The custom properties that the theme's and the site's own CSS read: the
    notebook's CSS must keep defining those, whatever the page holds."""
    dirs = tuple(config.theme.dirs) + (config.docs_dir,)
    if dirs not in _site_vars:
        found = set()
        for folder in dirs:
            for path in Path(folder).rglob("*.css"):
                found.update(VAR.findall(path.read_text(encoding="utf-8")))
        _site_vars[dirs] = found
    return _site_vars[dirs]
