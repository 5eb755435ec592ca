"""The project as the site tests see it: its root, its config, its pages and their HTML.

One home for what several test modules need: where the repository is, the MkDocs
configuration (read by MkDocs itself), the Markdown pages parsed by the runner, and
the built HTML file that serves each page or URL path.
"""

from functools import cache
from pathlib import Path
from urllib.parse import unquote

from mdrun.markdown import Page, parse

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@cache
def site_config():
    """mkdocs.yml as MkDocs reads it (defaults filled in, hooks not run)."""
    from mkdocs.config import load_config

    return load_config(str(ROOT / "mkdocs.yml"))


def markdown_sources() -> list[Path]:
    """Every Markdown page under docs/, in a stable order."""
    return sorted(DOCS.rglob("*.md"))


def parsed_pages() -> list[tuple[Path, Page]]:
    """(source, parsed page) for every page under docs/, by the runner's own parse."""
    return [(source, parse(source.read_text(encoding="utf-8"),
                           source.relative_to(ROOT).as_posix()))
            for source in markdown_sources()]


def url_path(page_path: str) -> str:
    """The site URL path ('' for the home page) of a page such as docs/numpy.md."""
    name = page_path.removeprefix("docs/").removesuffix(".md")
    if name == "index" or name.endswith("/index"):
        return name.removesuffix("index")
    return f"{name}/"


def html_file(site: Path, path: str) -> Path:
    """The HTML file that serves a URL path of the built site, or of a page path."""
    if path.startswith("docs/") and path.endswith(".md"):
        path = url_path(path)
    path = unquote(path)
    target = site / path
    return target / "index.html" if path == "" or path.endswith("/") else target


def site_pages(site: Path) -> list[str]:
    """URL paths of every HTML page in the built site, home page first."""
    pages = []
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site).as_posix()
        if rel.startswith(("assets/", "search/")):
            continue
        if rel == "index.html":
            pages.insert(0, "")
        elif rel.endswith("/index.html"):
            pages.append(rel[: -len("index.html")])
        else:
            pages.append(rel)
    return pages
