"""Every link in the built site resolves; external links are listed and well formed.

The strict build (the `built_site` fixture) already fails on a Markdown link to a
missing page or anchor, since mkdocs.yml's `validation:` turns those into warnings
and `--strict` turns warnings into errors. These tests then crawl the HTML the
build wrote, which also covers what the theme, plugins and hooks add: navigation,
the footer, canonical URLs, the search index and the sitemap. There is no network
here, so external links are checked for form only, and listed in the summary.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from xml.etree import ElementTree

import browser_summary
import pytest
from bs4 import BeautifulSoup
from project import site_config

LOCAL = "https://site.invalid"  # a stand-in origin to resolve relative links
LINK_ATTRS = {
    "a": ["href"],
    "link": ["href"],
    "img": ["src", "srcset"],
    "script": ["src"],
    "source": ["src", "srcset"],
    "iframe": ["src"],
    "video": ["src", "poster"],
    "audio": ["src"],
    "object": ["data"],
    "embed": ["src"],
}
# RFC 2606's names stand in for real sites; a link to one is a placeholder left in.
PLACEHOLDER_HOSTS = re.compile(
    r"(^|\.)(example\.(com|net|org)|invalid|test|localhost)$"
)
HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


SITE = urlsplit(site_config()["site_url"] or "")
SITE_PATH = SITE.path if SITE.path.endswith("/") else SITE.path + "/"


def _html_files(site: Path) -> list[Path]:
    return sorted(
        p
        for p in site.rglob("*.html")
        if not p.relative_to(site).as_posix().startswith(("assets/", "search/"))
    )


def _page_url(site: Path, html: Path) -> str:
    rel = html.relative_to(site).as_posix()
    if rel == "index.html" or rel.endswith("/index.html"):
        rel = rel[: -len("index.html")]
    return f"{LOCAL}{SITE_PATH}{rel}"


@cache
def _soup(html: Path) -> BeautifulSoup:
    return BeautifulSoup(html.read_text("utf-8"), "html.parser")


@cache
def _anchors(html: Path) -> frozenset[str]:
    soup = _soup(html)
    return frozenset(
        [t["id"] for t in soup.find_all(id=True)]
        + [t["name"] for t in soup.find_all("a", attrs={"name": True})]
    )


def _urls(tag, attr) -> list[str]:
    value = tag.get(attr)
    if not value:
        return []
    if attr == "srcset":
        return [part.strip().split()[0] for part in value.split(",") if part.strip()]
    return [value.strip()]


def _resolve(site: Path, url: str) -> tuple[Path | None, str, str]:
    """The file an internal URL serves, its fragment, and a problem ('' if none)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if not path.startswith(SITE_PATH):
        return None, parts.fragment, f"outside the site's path {SITE_PATH}"
    rel = path[len(SITE_PATH) :]
    target = site / rel
    if rel == "" or rel.endswith("/"):
        target = target / "index.html"
    elif target.is_dir():
        return None, parts.fragment, "a directory without its trailing slash"
    if not target.is_file():
        return None, parts.fragment, f"no such file in the site: {rel or 'index.html'}"
    return target, unquote(parts.fragment), ""


def _check_internal(
    site: Path, target: Path | None, fragment: str, problem: str
) -> str:
    if problem:
        return problem
    if fragment and target.suffix == ".html" and fragment not in _anchors(target):
        return f"no anchor #{fragment} in {target.relative_to(site).as_posix()}"
    return ""


def _external_problem(url: str) -> str:
    """What is wrong with the form of an external URL ('' if nothing)."""
    if any(ch.isspace() for ch in url):
        return "contains whitespace"
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        address = unquote(parts.path)
        ok = re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", address, re.I)
        return "" if ok else "not an e-mail address"
    if parts.scheme not in ("http", "https"):
        return f"unexpected scheme {parts.scheme!r}"
    host = (parts.hostname or "").lower()
    if not HOST.match(host):
        return f"not a host name: {host!r}"
    if PLACEHOLDER_HOSTS.search(host):
        return f"placeholder host {host}"
    return ""


def _is_internal(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return True
    return parts.scheme in ("http", "https") and parts.netloc == SITE.netloc


def _as_local(url: str) -> str:
    """An absolute URL on the site's own host, moved to the stand-in origin."""
    parts = urlsplit(url)
    if parts.netloc == SITE.netloc and parts.scheme in ("http", "https"):
        return LOCAL + url[len(f"{parts.scheme}://{parts.netloc}") :]
    return url


def _links(html: Path):
    """(tag name, attribute, URL) of every link and resource reference in a page."""
    for name, attrs in LINK_ATTRS.items():
        for tag in _soup(html).find_all(name):
            for attr in attrs:
                for url in _urls(tag, attr):
                    if not url.startswith(("data:", "blob:")):
                        yield name, attr, url


@pytest.fixture(scope="module")
def crawl(built_site):
    """Every link of every page, sorted into internal, external and bad ones."""
    internal, external, bad = [], {}, []
    for html in _html_files(built_site):
        page = "/" + html.relative_to(built_site).as_posix()
        base = _page_url(built_site, html)
        for name, attr, url in _links(html):
            if url.lower().startswith("javascript:"):
                bad.append((page, f"<{name} {attr}={url!r}>: javascript URL"))
            elif _is_internal(url):
                internal.append((page, name, url, urljoin(base, _as_local(url))))
            else:
                external.setdefault(url, page)
    return {"internal": internal, "external": external, "bad": bad}


def test_every_internal_link_and_anchor_resolves(built_site, crawl):
    """Pages, assets, images and #anchors that links in the built HTML point to
    all exist: navigation, footer, canonical URLs and content links alike."""
    problems = list(dict.fromkeys(crawl["bad"]))
    for page, tag, url, absolute in dict.fromkeys(crawl["internal"]):
        problem = _check_internal(built_site, *_resolve(built_site, absolute))
        if problem:
            problems.append((page, f"<{tag}> {url}: {problem}"))
    assert crawl["internal"], "the built site has no internal links at all"
    if problems:
        pytest.fail(
            f"{len(problems)} broken links:\n"
            + "\n".join(f"  {page}: {what}" for page, what in problems),
            pytrace=False,
        )


def test_search_index_and_sitemap_point_into_the_site(built_site):
    """Search results and the sitemap link to pages and anchors that exist."""
    problems = []
    index = built_site / "search" / "search_index.json"
    assert index.is_file(), "the build wrote no search index"
    docs = json.loads(index.read_text("utf-8"))["docs"]
    assert docs, "the search index is empty"
    for doc in docs:
        absolute = urljoin(f"{LOCAL}{SITE_PATH}", doc["location"])
        problem = _check_internal(built_site, *_resolve(built_site, absolute))
        if problem:
            problems.append(f"search index {doc['location']!r}: {problem}")
    sitemap = built_site / "sitemap.xml"
    assert sitemap.is_file(), "the build wrote no sitemap.xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = ElementTree.parse(sitemap).getroot().findall("s:url/s:loc", ns)
    if not SITE.netloc:  # no public address (SITE_URL unset): nothing to point at
        assert locs == [], "sitemap.xml lists URLs, but the site has no site_url"
    for loc in locs:
        url = (loc.text or "").strip()
        if not _is_internal(url):
            problems.append(f"sitemap {url}: not on the site's host {SITE.netloc}")
            continue
        problem = _check_internal(built_site, *_resolve(built_site, _as_local(url)))
        if problem:
            problems.append(f"sitemap {url}: {problem}")
    assert not problems, "\n".join(problems)


def test_external_links_are_well_formed(crawl, request):
    """No network here: external links are listed (see the summary) and their form
    is checked: http(s) or mailto, a real host name, no placeholder host."""
    external = crawl["external"]
    browser_summary.record_external_links(request.config, list(external.items()))
    problems = [
        f"  {page}: {url}: {problem}"
        for url, page in sorted(external.items())
        if (problem := _external_problem(url))
    ]
    if problems:
        pytest.fail(
            f"{len(problems)} malformed external links:\n" + "\n".join(problems),
            pytrace=False,
        )
