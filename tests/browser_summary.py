"""A pytest plugin that ends the run with a summary of the browser and link checks.

tests/conftest.py loads it for every run, so the controller of a pytest-xdist run
has it too. tests/browser/test_browser.py and tests/site/test_links.py record what
they saw with `record_page`, `record_check` and `record_external_links`; the
summary then prints pages checked, requests made, accessibility violations found
and the bytes each page transfers. Under pytest-xdist each worker sends its records
to the controller, which prints them.
"""

from __future__ import annotations

import json

import pytest

STASH = pytest.StashKey[dict]()


def _records(config) -> dict:
    if STASH not in config.stash:
        config.stash[STASH] = {"pages": {}, "checks": [], "external": [], "axe": ""}
    return config.stash[STASH]


def record_page(config, path: str, **facts) -> None:
    """Merge facts about one page: requests, transfer_bytes, violations, ..."""
    _records(config)["pages"].setdefault(path, {}).update(facts)


def record_check(config, text: str) -> None:
    """One line for the summary, e.g. 'search: ResNet -> 3 results'."""
    _records(config)["checks"].append(text)


def record_external_links(config, links: list[tuple[str, str]]) -> None:
    """(url, first page linking to it) for every distinct external link."""
    _records(config)["external"] = sorted(set(map(tuple, links)))


def record_axe_version(config, version: str) -> None:
    _records(config)["axe"] = version


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and STASH in session.config.stash:
        workeroutput["browser_summary"] = json.dumps(session.config.stash[STASH])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    data = getattr(node, "workeroutput", {}).get("browser_summary")
    if not data:
        return
    theirs = json.loads(data)
    ours = _records(node.config)
    for path, facts in theirs["pages"].items():
        ours["pages"].setdefault(path, {}).update(facts)
    ours["checks"] += theirs["checks"]
    ours["external"] = sorted(set(map(tuple, ours["external"] + theirs["external"])))
    ours["axe"] = ours["axe"] or theirs["axe"]


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB"


def pytest_terminal_summary(terminalreporter, config):
    records = config.stash.get(STASH, None)
    if not records or not (
        records["pages"] or records["checks"] or records["external"]
    ):
        return
    tr = terminalreporter
    pages = records["pages"]
    tr.write_sep("=", "browser and link checks")
    if pages:
        visited = {p: f for p, f in pages.items() if "requests" in f}
        requests = sum(f["requests"] for f in visited.values())
        total = sum(f["transfer_bytes"] for f in visited.values())
        serious = sum(f.get("serious", 0) for f in visited.values())
        other = sum(f.get("other_violations", 0) for f in visited.values())
        offsite = sum(f.get("offsite", 0) for f in visited.values())
        failed = sum(f.get("failed", 0) for f in visited.values())
        axe = records["axe"] or "axe-core"
        tr.write_line(
            f"pages checked: {len(visited)}   requests made: {requests} "
            f"({offsite} off-site, {failed} failed)   transferred: {_kb(total)}"
        )
        tr.write_line(
            f"{axe} (all rules, light scheme; colour rules, dark): "
            f"{serious} serious or critical violations, {other} moderate or minor"
        )
        tr.write_line("")
        tr.write_line(
            f"{'page':<40} {'requests':>8} {'transfer':>12} {'html':>10} "
            f"{'axe':>4} {'images':>6}"
        )
        for path, facts in visited.items():
            tr.write_line(
                f"{path:<40} {facts['requests']:>8} {_kb(facts['transfer_bytes']):>12} "
                f"{_kb(facts.get('html_bytes', 0)):>10} "
                f"{facts.get('serious', 0) + facts.get('other_violations', 0):>4} "
                f"{facts.get('images', 0):>6}"
            )
        tr.write_line(
            "(transfer: everything a first visit downloads, gzip as served; "
            "axe: violations of any impact)"
        )
    for line in records["checks"]:
        tr.write_line(line)
    external = records["external"]
    if external:
        tr.write_line("")
        tr.write_line(f"external links (form checked, not fetched): {len(external)}")
        for url, page in external:
            tr.write_line(f"  {url}   (from {page})")
