"""Helpers for the browser tests: serve the built site, start Chromium, visit pages.

The site is served over HTTP on 127.0.0.1 from a thread, gzip-compressed as any
static host serves it, so the transfer sizes measured are the ones readers pay.
Chromium is Debian's package (`apt-get install chromium`); Playwright's own browser
download cannot work offline, so it is never used.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import mimetypes
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from bs4 import BeautifulSoup
from playwright.sync_api import sync_playwright
from project import ROOT, html_file, parsed_pages, url_path

CHROMIUM_HINT = (
    "the browser tests need Debian's Chromium: install it with "
    "'apt-get install chromium' (.ci/run does), or point CHROMIUM at a chromium binary"
)
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
]
DESKTOP = {"width": 1280, "height": 800}
PALETTE_TOGGLE = "form[data-md-component=palette] label.md-header__button"
SCHEME = "body[data-md-color-scheme={}]"
PHONE = {"width": 390, "height": 844}

# Text types a static host compresses (GitHub Pages, nginx's gzip_types, ...).
COMPRESSED_TYPES = (
    "text/",
    "application/javascript",
    "application/json",
    "application/xml",
    "image/svg+xml",
)


# -- the server -----------------------------------------------------------------


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serve a directory quietly, with gzip for text when the client accepts it."""

    _gzip_cache: dict = {}

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        url_path = urlsplit(self.path).path
        if path.is_dir() and url_path.endswith("/"):
            path = path / "index.html"
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if (
            not path.is_file()
            or "gzip" not in self.headers.get("Accept-Encoding", "")
            or not ctype.startswith(COMPRESSED_TYPES)
        ):
            return super().do_GET()
        key = (path, path.stat().st_mtime_ns)
        body = self._gzip_cache.get(key)
        if body is None:
            body = self._gzip_cache[key] = gzip.compress(path.read_bytes(), 6, mtime=0)
        self.send_response(200)
        if ctype.startswith(("text/", "application/javascript", "application/json")):
            ctype += "; charset=utf-8"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        self.wfile.write(body)


class SiteServer:
    """The built site on http://127.0.0.1:<free port>/, served from a thread."""

    def __init__(self, site: Path):
        handler = functools.partial(_SiteHandler, directory=str(site))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_port}"
        self.base = f"http://{self.host}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


# -- the browser ----------------------------------------------------------------


def chromium_path() -> str:
    """Debian's chromium, or fail the test with how to install it. Never skip."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    pytest.fail(CHROMIUM_HINT, pytrace=False)


def launch_chromium(playwright):
    path = chromium_path()
    try:
        return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    except Exception as exc:  # a broken install: say what to do, not just why
        pytest.fail(f"could not start {path}: {exc}\n{CHROMIUM_HINT}", pytrace=False)


def new_context(browser, server: SiteServer, **options):
    """A fresh browser context (empty cache and storage) that cannot leave the host.

    Every request to another host is aborted and recorded in context.offsite, so a
    page that would call a CDN or a font service fails the test instead of leaking.
    """
    options.setdefault("viewport", DESKTOP)
    options.setdefault("color_scheme", "light")
    options.setdefault("reduced_motion", "reduce")
    options.setdefault("service_workers", "block")
    context = browser.new_context(**options)
    context.offsite = []

    def route(route, request):
        parts = urlsplit(request.url)
        if (
            parts.scheme in ("http", "https", "ws", "wss")
            and parts.netloc != server.host
        ):
            context.offsite.append(request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    context.route("**/*", route)
    return context


# -- the pages ------------------------------------------------------------------


def label(path: str) -> str:
    return "/" + path


@dataclass
class Visit:
    """What one page load showed: the raw facts the tests assert on."""

    path: str
    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    offsite_requests: list[str] = field(default_factory=list)
    requests: int = 0
    transfer_bytes: int = 0
    broken_images: list[str] = field(default_factory=list)
    image_problems: list[str] = field(default_factory=list)
    seo_problems: list[str] = field(default_factory=list)
    description: str = ""
    permalink_problems: list[str] = field(default_factory=list)
    headings: int = 0
    phone_overflow: list[str] = field(default_factory=list)
    axe: dict = field(default_factory=dict)  # scheme -> list of violations


# Lighthouse's SEO audit "link-text": link texts that say nothing.
VAGUE_LINK_TEXTS = {
    "click here",
    "click this",
    "go",
    "here",
    "information",
    "learn more",
    "link",
    "more",
    "more info",
    "more information",
    "right here",
    "read more",
    "see more",
    "start",
    "this",
    "this page",
    "this link",
}

PAGE_FACTS_JS = """
async () => {
  // Load every image now, lazy ones too, and wait until each is decoded or failed.
  const images = [...document.images];
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  const article = document.querySelector("article.md-content__inner") || document.body;
  const ratio = img => img.naturalWidth / img.naturalHeight;
  const facts = {
    title: document.title,
    lang: document.documentElement.lang,
    doctype: document.doctype ? document.doctype.name : "",
    charset: document.characterSet,
    viewport: document.querySelector('meta[name="viewport"]')?.content || "",
    description: document.querySelector('meta[name="description"]')?.content || "",
    descriptions: document.querySelectorAll('meta[name="description"]').length,
    robots: document.querySelector('meta[name="robots"]')?.content || "",
    canonical: document.querySelector('link[rel="canonical"]')?.href || "",
    images: images.map(img => {
      const style = getComputedStyle(img);
      const box = img.getBoundingClientRect();
      return {
        src: img.currentSrc || img.src,
        inArticle: article.contains(img),
        complete: img.complete,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
        hasAlt: img.hasAttribute("alt"),
        alt: img.getAttribute("alt") || "",
        width: img.getAttribute("width"),
        height: img.getAttribute("height"),
        cssSized: style.aspectRatio !== "auto" ||
          (img.style.width !== "" && img.style.height !== ""),
        shown: box.width > 0 && box.height > 0 && style.display !== "none",
        shownRatio: box.height ? box.width / box.height : 0,
        naturalRatio: img.naturalHeight ? ratio(img) : 0,
      };
    }),
    links: [...document.querySelectorAll("a[href]")].map(a => ({
      href: a.getAttribute("href"),
      text: (a.innerText || "").trim(),
      name: a.getAttribute("aria-label") || a.getAttribute("title") || "",
    })),
    headings: [...article.querySelectorAll("h1, h2, h3, h4, h5, h6")].map(h => ({
      tag: h.tagName.toLowerCase(),
      id: h.id,
      text: (h.innerText || "").trim().slice(0, 60),
      links: [...h.querySelectorAll("a.headerlink, a.anchor-link")]
        .map(a => a.getAttribute("href")),
    })),
  };
  return facts;
}
"""

PHONE_OVERFLOW_JS = """
() => {
  const root = document.scrollingElement;
  const width = root.clientWidth;
  if (root.scrollWidth <= width) return [];
  // Name the widest culprits: elements reaching past the screen that are not
  // inside something that scrolls or clips on its own.
  const clipped = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o !== "visible") return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && box.width > 0 && !clipped(el)) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.className && typeof el.className === "string"
          ? "." + el.className.trim().split(/\\s+/).join(".") : "");
      out.push(`${name} reaches ${Math.round(box.right)}px`);
      if (out.length === 5) break;
    }
  }
  return [`page is ${root.scrollWidth}px wide on a ${width}px screen`, ...out];
}
"""


def check_facts(visit: Visit, facts: dict, server: SiteServer) -> None:
    """Turn the page's facts into the problems the tests report."""
    visit.description = facts["description"].strip()
    seo = visit.seo_problems
    if not facts["title"].strip():
        seo.append("no <title>")
    if not visit.description:
        seo.append('no <meta name="description">')
    if facts["descriptions"] > 1:
        seo.append(f"{facts['descriptions']} meta descriptions")
    if not facts["lang"]:
        seo.append("<html> has no lang")
    if facts["doctype"] != "html":
        seo.append("no <!doctype html>")
    if facts["charset"].lower() != "utf-8":
        seo.append(f"charset is {facts['charset']}")
    if "width=device-width" not in facts["viewport"]:
        seo.append("no responsive meta viewport")
    if "noindex" in facts["robots"].lower():
        seo.append("robots meta says noindex")
    if facts["canonical"] and not facts["canonical"].startswith(
        ("https://", "http://")
    ):
        seo.append(f"canonical URL is not absolute: {facts['canonical']}")
    for link in facts["links"]:
        href = link["href"].strip()
        if not href or href.lower().startswith("javascript:"):
            seo.append(
                f"uncrawlable link href={href!r} ({link['text'] or link['name']})"
            )
        if link["text"].lower() in VAGUE_LINK_TEXTS:
            seo.append(f"link text says nothing: {link['text']!r} -> {href}")

    for img in facts["images"]:
        src = img["src"].replace(server.base, "/")
        if not img["complete"] or img["naturalWidth"] == 0:
            visit.broken_images.append(src)
            continue
        if not img["inArticle"]:
            continue
        if not img["hasAlt"] or not img["alt"].strip():
            visit.image_problems.append(f"{src}: no alt text")
        if not ((img["width"] and img["height"]) or img["cssSized"]):
            visit.image_problems.append(f"{src}: no width and height (layout shift)")
        if img["shown"] and img["naturalRatio"]:
            drift = abs(img["shownRatio"] - img["naturalRatio"]) / img["naturalRatio"]
            if drift > 0.05:
                visit.image_problems.append(
                    f"{src}: shown at aspect ratio {img['shownRatio']:.2f}, "
                    f"image is {img['naturalRatio']:.2f}"
                )

    visit.headings = len(facts["headings"])
    for h in facts["headings"]:
        where = f"<{h['tag']}> {h['text']!r}"
        if not h["id"]:
            visit.permalink_problems.append(f"{where} has no id")
        elif f"#{h['id']}" not in h["links"]:
            visit.permalink_problems.append(f"{where} has no permalink to #{h['id']}")


# -- accessibility: axe-core ------------------------------------------------------

AXE = Axe()  # axe-playwright-python bundles axe-core's axe.min.js
SERIOUS = {"serious", "critical"}

# axe's colour-contrast rule costs milliseconds per element, and a page of code has
# thousands of highlighted tokens. Tokens that share tag, class, colour, font and
# background get the same verdict from every rule, so axe checks the page without
# its code blocks, then one visible token (and code block) of each kind; the copies
# stay on the page, they are only not measured again.
SAMPLE_TOKENS_JS = """
() => {
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c && c !== "transparent" && !/rgba\\(.*, 0\\)$/.test(c)) return c;
    }
    return "";
  };
  const seen = new Set();
  for (const el of document.querySelectorAll(".highlight code, .highlight code span")) {
    el.removeAttribute("data-axe-sample");
    if (!el.checkVisibility()) continue;
    const style = getComputedStyle(el);
    const key = [el.tagName, el.className, style.color, style.fontSize,
                 style.fontWeight, background(el)].join("|");
    if (!seen.has(key)) {
      seen.add(key);
      el.setAttribute("data-axe-sample", "");
    }
  }
  return seen.size;
}
"""
COLOUR_RULES = {"type": "rule", "values": ["color-contrast", "link-in-text-block"]}


def run_axe(page, colours_only: bool = False) -> list[dict]:
    """axe-core's violations on the page as it is now: every rule, or only the
    colour rules (for a second colour scheme). axe is injected once a page."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.axe_script)
    kinds = page.evaluate(SAMPLE_TOKENS_JS)
    contexts = [{"exclude": [[".highlight code"]]}]
    if kinds:
        contexts.append({"include": [["[data-axe-sample]"]]})
    options = {"resultTypes": ["violations"]}
    if colours_only:
        options["runOnly"] = COLOUR_RULES
    found: dict[str, dict] = {}
    for context in contexts:
        for violation in page.evaluate(
            "([context, options]) => axe.run(context, options)", [context, options]
        )["violations"]:
            if violation["id"] in found:
                found[violation["id"]]["nodes"] += violation["nodes"]
            else:
                found[violation["id"]] = violation
    return list(found.values())


def describe(violation: dict) -> str:
    """One axe violation: rule, impact, help, and where (with axe's own summary)."""
    where = "; ".join(
        " ".join(node["target"])
        + ": "
        + (node.get("failureSummary") or "").replace("\n", " ")[:160]
        for node in violation["nodes"][:4]
    )
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {where}"


def axe_version() -> str:
    match = re.search(r"axe v([\d.]+)", AXE.axe_script[:200])
    return match.group(1) if match else "?"


# -- one page, as a reader's browser loads it ----------------------------------------


def visit_pages(browser, server: SiteServer, paths) -> dict[str, Visit]:
    """visit_page for every path, two at a time: the given browser in this thread,
    and a second Chromium in a thread of its own (Playwright's sync API wants one
    instance per thread). Axe keeps one core busy per page it checks."""
    queue = list(paths)
    lock = threading.Lock()
    results: dict[str, Visit] = {}
    errors: list[BaseException] = []

    def work(chromium):
        """Visit queued pages until none is left or either thread failed."""
        try:
            while True:
                with lock:
                    if not queue or errors:
                        return
                    path = queue.pop(0)
                results[path] = visit_page(chromium, server, path)
        except BaseException as exc:  # noqa: BLE001 - raised again below
            errors.append(exc)

    def helper():
        try:
            with sync_playwright() as playwright:
                chromium = launch_chromium(playwright)
                work(chromium)
                chromium.close()
        except BaseException as exc:  # noqa: BLE001 - raised again below
            errors.append(exc)

    thread = threading.Thread(target=helper)
    thread.start()
    work(browser)
    thread.join()
    if errors:
        raise errors[0]
    return {path: results[path] for path in paths}


def visit_page(browser, server: SiteServer, path: str) -> Visit:
    """Load one page in a fresh context and record what a reader's browser saw:
    console, requests and bytes, page facts, axe in the light then the dark scheme,
    and the page's width on a phone-sized screen."""
    visit = Visit(path)
    context = new_context(browser, server)
    page = context.new_page()

    def finished(request):
        visit.requests += 1
        sizes = request.sizes()
        visit.transfer_bytes += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        response = request.response()
        if response is not None and response.status >= 400:
            visit.failed_requests.append(f"{request.url} (HTTP {response.status})")

    def failed(request):
        if request.url not in context.offsite:
            visit.failed_requests.append(f"{request.url} ({request.failure})")

    page.on(
        "console",
        lambda msg: (
            visit.console_errors.append(f"{msg.text} ({msg.location.get('url')})")
            if msg.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda exc: visit.console_errors.append(f"uncaught {exc}"))
    page.on("requestfinished", finished)
    page.on("requestfailed", failed)
    try:
        response = page.goto(server.base + path, wait_until="networkidle")
        visit.status = response.status if response else None
        check_facts(visit, page.evaluate(PAGE_FACTS_JS), server)

        visit.axe["light"] = run_axe(page)
        page.locator(PALETTE_TOGGLE).locator("visible=true").click()
        page.wait_for_selector(SCHEME.format("slate"), timeout=5000)
        visit.axe["dark"] = run_axe(page, colours_only=True)

        page.set_viewport_size(PHONE)
        page.wait_for_timeout(100)
        visit.phone_overflow = page.evaluate(PHONE_OVERFLOW_JS)
    finally:
        visit.offsite_requests = list(context.offsite)
        context.close()
    return visit


# -- content tabs and colour schemes ----------------------------------------------


SELECTED_TABS_JS = """
() => [...document.querySelectorAll(".tabbed-set")].map(set => {
  const labels = [...set.querySelectorAll(":scope > .tabbed-labels > label")];
  const input = set.querySelector(":scope > input:checked");
  const chosen = input && set.querySelector(`label[for="${input.id}"]`);
  return {labels: labels.map(l => l.innerText.trim()),
          chosen: chosen ? chosen.innerText.trim() : null};
})
"""


def tab_sets(site, path) -> list[list[str]]:
    soup = BeautifulSoup(html_file(site, path).read_text("utf-8"), "html.parser")
    return [
        [
            lab.get_text(strip=True)
            for lab in tabs.select(":scope > .tabbed-labels > label")
        ]
        for tabs in soup.select(".tabbed-set")
    ]


def choose_tab(page, text):
    """Click the first tab labelled exactly `text`, as a reader would."""
    exact = re.compile(rf"^\s*{re.escape(text)}\s*$")
    page.locator(".tabbed-labels > label").filter(has_text=exact).first.click()


def chosen_tabs(page, text) -> list[str]:
    """What each tab set offering `text` shows now."""
    return [s["chosen"] for s in page.evaluate(SELECTED_TABS_JS) if text in s["labels"]]


BACKGROUND_LUMINANCE_JS = """
() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor
    .match(/[\\d.]+/g).slice(0, 3).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}
"""


# -- copying code -------------------------------------------------------------------


# Material's code blocks get their copy button from the theme's script; notebook
# cells (mkdocs-jupyter) carry their own <clipboard-copy for="cell-N"> element.
CODE_BLOCKS = "article div.highlight:not(.output) pre > code"
NOTEBOOK_BUTTONS = "article .jupyter-wrapper clipboard-copy[for]"
REVEAL_JS = """
([kind, index, notebookButtons, codeBlocks]) => {
  let code, button, id;
  if (kind === "notebook") {
    button = document.querySelectorAll(notebookButtons)[index];
    if (!button) return null;
    code = button;
    id = button.getAttribute("for");
  } else {
    code = document.querySelectorAll(codeBlocks)[index];
    if (!code) return null;
    id = code.parentElement.id;
  }
  // Open the collapsible blocks and tabs that hide the block.
  for (let el = code; el; el = el.parentElement) {
    if (el.tagName === "DETAILS") el.open = true;
    if (el.classList.contains("tabbed-block")) {
      const set = el.closest(".tabbed-set");
      const at = [...el.parentElement.children].indexOf(el);
      const label = set.querySelectorAll(":scope > .tabbed-labels > label")[at];
      if (label && !document.getElementById(label.htmlFor).checked) label.click();
    }
  }
  code.scrollIntoView({block: "center"});
  // Material mounts a block's copy button when the block first shows
  // (content.lazy): wait up to two seconds for it.
  const mounted = () => {
    if (button) return button;
    id = code.parentElement.id;
    return id && document.querySelector(
      `button[data-clipboard-target="#${id} > code"]`);
  };
  const until = performance.now() + 2000;
  return new Promise(resolve => {
    const poll = () => (mounted() || performance.now() > until)
      ? resolve() : requestAnimationFrame(poll);
    poll();
  }).then(() => {
    button = mounted();
    const box = button && button.getBoundingClientRect();
    // Start from an empty clipboard, so a copy that does nothing cannot pass.
    return navigator.clipboard.writeText("").then(() => ({
      id, x: box && box.x + box.width / 2, y: box && box.y + box.height / 2,
    }));
  });
}
"""


def reveal_copy_button(page, block) -> dict | None:
    """Bring a block's copy button into view (opening its tab or collapsible) and
    empty the clipboard; the button's id and centre, or None."""
    return page.evaluate(
        REVEAL_JS, [block.kind, block.index, NOTEBOOK_BUTTONS, CODE_BLOCKS]
    )


PROMPT = re.compile(r"^(?:>>>|\.\.\.|\$) ?")


def typed_lines(code: str) -> str:
    """What a reader types from a console or pycon block: its prompt lines, without
    the prompts; the lines without a prompt are output."""
    return "\n".join(PROMPT.sub("", line, count=1).rstrip()
                     for line in code.split("\n") if PROMPT.match(line))


@dataclass
class Copy:
    """A code block's copy button and what it must put on the clipboard."""

    kind: str  # "material" or "notebook"
    index: int  # among the page's blocks of that kind
    text: str
    prompts: bool  # the block shows prompts ($, >>>), which must not be copied


def shown_fences(page):
    """The page's fences in the order the built page shows them: each block, then
    the expected output that belongs to it."""
    for block in page.blocks:
        yield block
        if block.output is not None:
            yield block.output


def expected_copies(site, path) -> list[Copy]:
    """Every code block of a page, in page order, with the text its copy button must
    copy. Markdown pages: the fence's content in the Markdown source, as the runner
    parses it (prompt lines without prompts for console and pycon). Notebook pages:
    the source of each code cell of the example script."""
    if path.startswith("examples/"):
        import jupytext

        script = ROOT / "examples" / f"{path.strip('/').removeprefix('examples/')}.py"
        cells = [c.source.rstrip() for c in jupytext.read(script).cells
                 if c.cell_type == "code"]
        return [Copy("notebook", i, text, False) for i, text in enumerate(cells)]
    page = next((page for _, page in parsed_pages() if url_path(page.path) == path),
                None)
    if page is None:  # a page the theme makes (404.html): no code blocks
        return []
    copies = []
    code_blocks = [b for b in shown_fences(page) if b.lang != "output"]
    for index, block in enumerate(code_blocks):  # outputs have no copy button
        if block.lang in ("console", "pycon"):
            copies.append(Copy("material", index, typed_lines(block.code), True))
        else:
            copies.append(Copy("material", index, block.code.rstrip(), False))
    return copies
