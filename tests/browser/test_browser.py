"""The site as readers get it: the strict build, served locally, in real Chromium.

One crawl visits every page of the built site once (fresh cache, desktop size,
light then dark scheme, then a phone-sized screen) and records what it saw; most
tests below assert on that record, so the crawl runs once however many tests use
it. The interaction tests (search, linked tabs, dark mode, copy) drive the pages
themselves. Nothing here is skipped: without Chromium the tests fail and say how
to install it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

pytest.register_assert_rewrite("browser_support")

import browser_summary  # noqa: E402
from browser_support import (  # noqa: E402
    BACKGROUND_LUMINANCE_JS,
    DESKTOP,
    PALETTE_TOGGLE,
    PHONE,
    SCHEME,
    SERIOUS,
    SiteServer,
    axe_version,
    choose_tab,
    chosen_tabs,
    describe,
    expected_copies,
    label,
    launch_chromium,
    new_context,
    reveal_copy_button,
    run_axe,
    tab_sets,
    visit_pages,
)
from bs4 import BeautifulSoup  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from project import (  # noqa: E402
    html_file,
    parsed_pages,
    site_config,
    site_pages,
    url_path,
)

SEARCH_TERMS = ["ResNet", "GradientTape"]
LINKED_TAB = "PyTorch"
# Lighthouse's "avoid enormous network payloads" starts to cost at 1.6 MB.
PAGE_BUDGET_BYTES = 1600 * 1024


# -- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def server(built_site):
    with SiteServer(built_site) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def pages(built_site):
    found = site_pages(built_site)
    assert "" in found, "the built site has no home page (index.html)"
    return found


@pytest.fixture(scope="module")
def visits(browser, server, built_site, pages, request):
    """Every page, visited once; the summary records what each one cost."""
    config = request.config
    browser_summary.record_axe_version(config, "axe-core " + axe_version())
    results = visit_pages(browser, server, pages)
    for path, visit in results.items():
        violations = [v for scheme in visit.axe.values() for v in scheme]
        browser_summary.record_page(
            config,
            label(path),
            requests=visit.requests,
            transfer_bytes=visit.transfer_bytes,
            html_bytes=html_file(built_site, path).stat().st_size,
            serious=sum(v["impact"] in SERIOUS for v in violations),
            other_violations=sum(v["impact"] not in SERIOUS for v in violations),
            offsite=len(visit.offsite_requests),
            failed=len(visit.failed_requests),
            images=_image_count(built_site, path),
        )
    return results


def _image_count(site, path) -> int:
    soup = BeautifulSoup(
        html_file(site, path).read_text(encoding="utf-8"), "html.parser"
    )
    article = soup.select_one("article") or soup
    return len(article.find_all("img"))


def _report(problems: dict[str, list[str]]) -> str:
    lines = []
    for path, items in problems.items():
        if items:
            lines.append(f"{label(path)}:")
            lines += [f"    {item}" for item in items]
    return "\n".join(lines)


def _fail_on(problems: dict[str, list[str]], what: str) -> None:
    """Fail with every page's problems, listed page by page."""
    count = sum(len(items) for items in problems.values())
    if count:
        pytest.fail(f"{count} {what}:\n" + _report(problems), pytrace=False)


# -- every page -----------------------------------------------------------------


def test_every_page_loads_without_errors(visits):
    """HTTP 200, no console errors or uncaught exceptions, no failed request."""
    problems = {
        path: ([f"HTTP {v.status}"] if v.status != 200 else [])
        + [f"console error: {e}" for e in v.console_errors]
        + [f"failed request: {r}" for r in v.failed_requests]
        for path, v in visits.items()
    }
    _fail_on(problems, "load errors")


def test_no_request_leaves_the_host(visits, built_site):
    """Fonts, scripts, styles and images all come from the site itself.

    The browser aborts any request to another host; the built HTML is checked
    too, for resources a page would only fetch on interaction."""
    problems = {
        path: [f"request to {u}" for u in v.offsite_requests]
        for path, v in visits.items()
    }
    for path in visits:
        soup = BeautifulSoup(
            html_file(built_site, path).read_text("utf-8"), "html.parser"
        )
        for tag in soup.find_all(
            [
                "script",
                "img",
                "iframe",
                "source",
                "link",
                "video",
                "audio",
                "embed",
                "object",
            ]
        ):
            if tag.name == "link" and not set(tag.get("rel", [])) & {
                "stylesheet",
                "preconnect",
                "dns-prefetch",
                "preload",
                "prefetch",
                "icon",
                "modulepreload",
                "manifest",
            }:
                continue  # canonical, prev/next: not fetched
            for attr in ("src", "href", "data", "srcset", "poster"):
                value = tag.get(attr) or ""
                if re.match(r"\s*(https?:)?//", value):
                    problems[path].append(f"<{tag.name} {attr}={value!r}> in the HTML")
    _fail_on(problems, "off-site requests")


def test_every_image_loads(visits):
    problems = {
        path: [f"image did not load: {src}" for src in v.broken_images]
        for path, v in visits.items()
    }
    _fail_on(problems, "broken images")


def test_images_have_alt_text_and_sizes(visits):
    """Alt text for screen readers; width and height so nothing jumps on load."""
    problems = {path: v.image_problems for path, v in visits.items()}
    _fail_on(problems, "image problems")


def test_every_page_has_a_description_and_passes_seo_checks(visits):
    """The checks of Lighthouse's SEO and best-practice audits a page can fail on
    its own: title, meta description, lang, doctype, charset, viewport, crawlable
    and descriptive links, no noindex."""
    problems = {path: v.seo_problems for path, v in visits.items()}
    _fail_on(problems, "SEO or best-practice problems")


def test_headings_have_permalinks(visits):
    """Every heading of every page made from Markdown or a notebook (not the 404
    page) has an id and a permalink to it."""
    content = {p: v for p, v in visits.items() if p != "404.html"}
    problems = {
        p: v.permalink_problems + ([] if v.headings else ["no heading at all"])
        for p, v in content.items()
    }
    _fail_on(problems, "headings without permalinks")


def test_phone_screen_has_no_horizontal_scroll(visits):
    """At 375 x 812 the page is no wider than the screen: wide tables and code
    scroll inside their own boxes."""
    problems = {path: v.phone_overflow for path, v in visits.items()}
    _fail_on(problems, "phone-screen overflows")


def test_no_serious_accessibility_violations(visits):
    """axe-core on every page, all rules in the light scheme and the colour rules
    again in the dark one: no violation of serious or critical impact."""
    problems = {}
    for path, v in visits.items():
        problems[path] = [
            f"[{scheme}] " + describe(item)
            for scheme, violations in v.axe.items()
            for item in violations
            if item["impact"] in SERIOUS
        ]
    _fail_on(problems, "serious or critical axe violations")


def test_pages_stay_within_the_weight_budget(visits):
    heavy = {
        path: [
            f"{v.transfer_bytes / 1024:,.0f} KB transferred "
            f"(budget {PAGE_BUDGET_BYTES / 1024:,.0f} KB)"
        ]
        for path, v in visits.items()
        if v.transfer_bytes > PAGE_BUDGET_BYTES
    }
    _fail_on(heavy, "pages over the weight budget")


# -- interactions ---------------------------------------------------------------


@pytest.mark.parametrize("term", SEARCH_TERMS)
def test_search_finds(term, browser, server, pages, request):
    """Typing a term in the search box lists pages that contain it, the first
    result opens such a page, and the open search dialog passes axe."""
    context = new_context(browser, server)
    page = context.new_page()
    try:
        page.goto(server.base, wait_until="networkidle")
        # The search worker has loaded the index once the placeholder replaces
        # "Initializing search"; typing before that is lost.
        page.wait_for_function(
            """() => {
              const meta = document.querySelector(".md-search-result__meta");
              return meta && !/initializ/i.test(meta.textContent);
            }""",
            timeout=15000,
        )
        page.locator(".md-search__input").click()
        page.keyboard.type(term, delay=20)
        results = page.locator(".md-search-result__item")
        try:
            results.first.wait_for(timeout=15000)
        except Exception:
            meta = page.locator(".md-search-result__meta").inner_text()
            pytest.fail(f"search for {term!r} found nothing ({meta.strip()!r})")
        texts = results.all_inner_texts()
        assert any(term.lower() in t.lower() for t in texts), texts
        violations = [
            f"[light] {describe(v)}" for v in run_axe(page) if v["impact"] in SERIOUS
        ]
        # The dark scheme, switched as the palette toggle switches it, so the
        # dialog and its results stay open.
        page.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
        violations += [
            f"[dark] {describe(v)}"
            for v in run_axe(page, colours_only=True)
            if v["impact"] in SERIOUS
        ]
        assert not violations, "the open search dialog fails axe:\n" + "\n".join(
            violations
        )
        href = page.locator(".md-search-result__link").first.get_attribute("href")
        page.goto(href, wait_until="load")
        body = page.locator("article").text_content()  # hidden tabs too
        assert term.lower() in body.lower(), f"{href} does not mention {term!r}"
        browser_summary.record_check(
            request.config,
            f"search {term!r}: {len(texts)} result(s); the first opens "
            f"{urlsplit(href).path}",
        )
    finally:
        context.close()


def test_linked_tabs_follow_the_reader(browser, server, built_site, pages, request):
    """Choosing PyTorch in a tab set on one page selects PyTorch on the next.

    So that the check cannot pass by default, the reader first chooses another
    framework on page A and must find it chosen on page B, then chooses PyTorch
    on page B and must find it chosen back on page A."""
    with_tab = [
        p for p in pages if any(LINKED_TAB in s for s in tab_sets(built_site, p))
    ]
    assert len(with_tab) >= 2, (
        f"linked tabs need {LINKED_TAB!r} tabs on two pages; found them on "
        f"{[label(p) for p in with_tab]}"
    )
    first, second = with_tab[:2]
    labels_first = {
        t for s in tab_sets(built_site, first) if LINKED_TAB in s for t in s
    }
    labels_second = {t for s in tab_sets(built_site, second) for t in s}
    others = sorted((labels_first & labels_second) - {LINKED_TAB})
    assert others, (
        f"{label(first)} and {label(second)} share no tab label besides "
        f"{LINKED_TAB!r}, so the reader's choice cannot be shown to follow them"
    )
    other = others[0]
    context = new_context(browser, server)
    page = context.new_page()
    try:
        page.goto(server.base + first, wait_until="networkidle")
        choose_tab(page, other)
        page.goto(server.base + second, wait_until="networkidle")
        assert set(chosen_tabs(page, other)) == {other}, (
            f"chose {other!r} on {label(first)}; {label(second)} shows "
            f"{chosen_tabs(page, other)}"
        )
        choose_tab(page, LINKED_TAB)
        page.goto(server.base + first, wait_until="networkidle")
        shown = chosen_tabs(page, LINKED_TAB)
        assert shown and set(shown) == {LINKED_TAB}, (
            f"chose {LINKED_TAB!r} on {label(second)}; {label(first)} shows {shown}"
        )
        browser_summary.record_check(
            request.config,
            f"linked tabs: {LINKED_TAB!r} and {other!r} followed the reader "
            f"between {label(first)} and {label(second)}",
        )
    finally:
        context.close()


def test_palette_toggle_switches_dark_mode(browser, server, pages):
    """The header's toggle switches to the dark scheme, which survives a reload,
    and back."""
    context = new_context(browser, server, color_scheme="light")
    page = context.new_page()
    scheme = SCHEME
    toggle = page.locator(PALETTE_TOGGLE)
    try:
        page.goto(server.base, wait_until="networkidle")
        page.wait_for_selector(scheme.format("default"))
        assert page.evaluate(BACKGROUND_LUMINANCE_JS) > 0.8
        toggle.locator("visible=true").click()
        page.wait_for_selector(scheme.format("slate"), timeout=5000)
        assert page.evaluate(BACKGROUND_LUMINANCE_JS) < 0.2
        page.reload(wait_until="networkidle")
        page.wait_for_selector(scheme.format("slate"), timeout=5000)
        toggle.locator("visible=true").click()
        page.wait_for_selector(scheme.format("default"), timeout=5000)
        assert page.evaluate(BACKGROUND_LUMINANCE_JS) > 0.8
    finally:
        context.close()


# -- outputs ----------------------------------------------------------------------

OUTPUTS_JS = """
() => [...document.querySelectorAll("article .highlight.output")].map(box => {
  const code = box.querySelector("pre > code");
  const previous = box.previousElementSibling;
  const before = previous && previous.querySelector("pre > code");
  return {
    // textContent: an output in a closed solution box has no rendered text yet
    label: (box.querySelector(".filename") || {}).textContent || "",
    copyButtons: box.querySelectorAll("[data-clipboard-target], .md-clipboard").length,
    background: getComputedStyle(code).backgroundColor,
    codeBackground: before ? getComputedStyle(before).backgroundColor : null,
    afterCode: !!(previous && previous.matches(".highlight:not(.output)")),
  };
})
"""


def test_outputs_are_labelled_distinct_and_not_copied(browser, server, request):
    """Every expected output reads as output in both schemes: labelled "Output",
    right under the code that printed it, on its own background, no copy button."""
    context = new_context(browser, server)
    page = context.new_page()
    seen = 0
    try:
        page.goto(server.base + "numpy/", wait_until="networkidle")
        for scheme in ("default", "slate"):
            if scheme == "slate":
                page.locator(PALETTE_TOGGLE).locator("visible=true").click()
                page.wait_for_selector(SCHEME.format("slate"), timeout=5000)
            outputs = page.evaluate(OUTPUTS_JS)
            assert outputs, "the NumPy page shows no output"
            for out in outputs:
                label = out["label"].strip().lower()
                assert label in ("output", "output, measured"), out
                assert out["copyButtons"] == 0, out
                assert out["afterCode"], out
                assert out["background"] != out["codeBackground"], (scheme, out)
            seen += len(outputs)
    finally:
        context.close()
    browser_summary.record_check(
        request.config, f"outputs: {seen // 2} on the NumPy page labelled, distinct "
        "from code in light and dark, with no copy button")


# -- what the reader sees first ---------------------------------------------------

STAMP_JS = """
() => {
  const stamp = document.querySelector("article .stamp");
  if (!stamp) return null;
  const box = stamp.getBoundingClientRect();
  return {text: stamp.innerText, classes: [...stamp.classList], height: box.height,
          afterTitle: stamp.previousElementSibling?.tagName === "H1"};
}
"""


def test_every_markdown_page_is_stamped_verified_from_the_record(
        browser, server, pages, request):
    """Right under the title, each page with code says when it was verified, how
    many blocks passed and with which versions: one short line, on a phone too."""
    pages_with_code = [url_path(page.path) for _, page in parsed_pages()
                       if page.reader_paths()]
    context = new_context(browser, server, viewport=PHONE)
    page = context.new_page()
    try:
        for path in pages_with_code:
            page.goto(server.base + path, wait_until="load")
            stamp = page.evaluate(STAMP_JS)
            assert stamp is not None, f"{label(path)}: no stamp"
            assert stamp["afterTitle"], f"{label(path)}: not under the title"
            assert "stamp--verified" in stamp["classes"], (label(path), stamp["text"])
            assert re.match(r"Verified on \d{4}-\d\d-\d\d · \d+ blocks", stamp["text"]
                            .strip()), (label(path), stamp["text"])
            assert "Python 3." in stamp["text"], stamp["text"]
            assert stamp["height"] < PHONE["height"] / 4, (
                f"{label(path)}: the stamp takes {stamp['height']} px of the screen")
    finally:
        context.close()
    browser_summary.record_check(
        request.config,
        f"stamps: {len(pages_with_code)} pages verified, each under its title")


NAV_JS = """
() => [...document.querySelectorAll(".md-nav--primary > .md-nav__list > .md-nav__item")]
  .map(item => item.querySelector(":scope > a, :scope > label, :scope > div > a")
               ?.innerText.trim())
"""


def test_the_sidebar_lists_the_pages_in_the_configured_order(browser, server):
    expected = [next(iter(entry)) if isinstance(entry, dict) else entry
                for entry in site_config()["nav"]]
    context = new_context(browser, server)
    page = context.new_page()
    try:
        page.goto(server.base, wait_until="load")
        shown = [text for text in page.evaluate(NAV_JS) if text]
        assert shown == expected
    finally:
        context.close()


NOTEBOOK_JS = """
() => {
  const visible = el => el && el.checkVisibility();
  const cell = document.querySelector(".jupyter-wrapper .highlight-ipynb pre");
  const out = document.querySelector(
    ".jupyter-wrapper .jp-OutputArea-output:not([data-mime-type*=stderr]) pre");
  const image = document.querySelector(".jupyter-wrapper .jp-RenderedImage img");
  const article = document.querySelector("article").getBoundingClientRect();
  return {
    prompts: [...document.querySelectorAll(".jp-InputPrompt, .jp-OutputPrompt")]
      .filter(visible).length,
    codeFont: getComputedStyle(cell).fontFamily,
    outputBackground: getComputedStyle(out).backgroundColor,
    outputWhiteSpace: getComputedStyle(out).whiteSpace,
    imageWidth: image ? image.getBoundingClientRect().width : 0,
    articleWidth: article.width,
  };
}
"""
CODE_FONT_JS = """() => getComputedStyle(
  document.querySelector("article div.highlight pre > code")).fontFamily"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_notebook_pages_look_like_the_site(browser, server, viewport):
    """No In [n] prompts, the site's code font, outputs styled as outputs and not
    wrapped, and figures as wide as the column allows."""
    context = new_context(browser, server, viewport=viewport)
    page = context.new_page()
    try:
        page.goto(server.base + "numpy/", wait_until="load")
        site_font = page.evaluate(CODE_FONT_JS)
        for path in ("examples/digits-four-ways/", "examples/degradation-study/"):
            page.goto(server.base + path, wait_until="load")
            facts = page.evaluate(NOTEBOOK_JS)
            assert facts["prompts"] == 0, (path, facts)
            assert facts["codeFont"] == site_font, (path, facts)
            assert facts["outputBackground"] not in ("rgba(0, 0, 0, 0)", ""), facts
            assert facts["outputWhiteSpace"] == "pre", facts
            assert facts["imageWidth"] >= min(0.9 * facts["articleWidth"], 600) - 1, (
                path, facts)
    finally:
        context.close()


# -- figures in both colour schemes -------------------------------------------------

VARIANTS_JS = """
() => [...document.querySelectorAll("article img")]
  .filter(img => /#only-(light|dark)$/.test(img.getAttribute("src")))
  .map(img => ({src: img.getAttribute("src"), shown: img.checkVisibility()}))
"""


def test_figures_with_light_and_dark_variants_show_the_one_for_the_scheme(
        browser, server, pages, request):
    """A figure drawn twice (media/x-light.svg#only-light, x-dark.svg#only-dark)
    shows its light variant in the light scheme and its dark one in the dark."""
    context = new_context(browser, server)
    page = context.new_page()
    checked = 0
    try:
        for path in pages:
            page.goto(server.base + path, wait_until="load")
            if not page.evaluate(VARIANTS_JS):
                continue
            for scheme in ("light", "dark"):
                if scheme == "dark":
                    page.locator(PALETTE_TOGGLE).locator("visible=true").click()
                    page.wait_for_selector(SCHEME.format("slate"), timeout=5000)
                for figure in page.evaluate(VARIANTS_JS):
                    wanted = figure["src"].endswith(f"#only-{scheme}")
                    assert figure["shown"] == wanted, (label(path), scheme, figure)
                    checked += figure["shown"]
            page.locator(PALETTE_TOGGLE).locator("visible=true").click()  # back
            page.wait_for_selector(SCHEME.format("default"), timeout=5000)
    finally:
        context.close()
    assert checked >= 2, "no figure on the site has light and dark variants"
    browser_summary.record_check(
        request.config, f"figures: {checked} scheme variants shown in their scheme")


# -- maths ------------------------------------------------------------------------

MATHS_JS = """
() => [...document.querySelectorAll("article .arithmatex")].map(box => {
  const math = box.querySelector("math");
  const rect = math ? math.getBoundingClientRect() : null;
  return {text: box.textContent, display: math && math.getAttribute("display"),
          width: rect ? rect.width : 0, height: rect ? rect.height : 0};
})
"""


@pytest.mark.parametrize("path", ["numpy/", "resnets/"])
def test_formulas_are_typeset_locally_as_mathml(browser, server, path):
    """Formulas arrive as MathML that the browser draws itself: no TeX left in the
    text, a real box on screen, and no request beyond the site."""
    context = new_context(browser, server)
    page = context.new_page()
    try:
        page.goto(server.base + path, wait_until="networkidle")
        formulas = page.evaluate(MATHS_JS)
        assert any(f["display"] == "block" for f in formulas), formulas
        for formula in formulas:
            assert formula["display"] in ("inline", "block"), formula
            assert "\\" not in formula["text"] and "$" not in formula["text"], formula
            assert formula["width"] > 0 and formula["height"] > 0, formula
        assert context.offsite == []
    finally:
        context.close()


# -- copying code -----------------------------------------------------------------


def test_copy_button_copies_exactly_the_code(
    browser, server, built_site, pages, request
):
    """Each code block's copy button, clicked as a reader clicks it, puts exactly its
    code on the clipboard: what the Markdown fence holds (or the notebook cell
    shows), no prompts, no output, no trailing newline."""
    context = new_context(browser, server)
    context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=server.base[:-1]
    )
    page = context.new_page()
    problems, copied = {}, 0
    try:
        for path in pages:
            expected = expected_copies(built_site, path)
            if not expected:
                continue
            problems[path] = []
            page.goto(server.base + path, wait_until="load")
            for block in expected:
                where = f"{block.kind} code block {block.index + 1}"
                button = reveal_copy_button(page, block)
                if not button or button["x"] is None:
                    problems[path].append(f"{where}: no copy button")
                    continue
                page.mouse.click(button["x"], button["y"])  # a reader's click
                got = page.evaluate("navigator.clipboard.readText()")
                copied += 1
                where += f" (#{button['id']})"
                if got != block.text:
                    problems[path].append(
                        f"{where}: copied {got!r}, expected {block.text!r}"
                    )
    finally:
        context.close()
    _fail_on(problems, "copy-button problems")
    browser_summary.record_check(
        request.config, f"copy buttons: {copied} code blocks copied exactly"
    )
