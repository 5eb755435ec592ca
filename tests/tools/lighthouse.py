"""`make lighthouse`: Lighthouse's four scores for every page of the built site.

Builds the site (or takes one: --site DIR), serves it on 127.0.0.1 gzip-compressed
as a static host serves it (the browser tests' server; --no-gzip to serve it raw),
and runs Lighthouse (node_modules/, pinned in package-lock.json) with Debian's
Chromium on every page, in Lighthouse's default mode: a phone, simulated slow 4G
and a 4x slower CPU. Scores depend on timing, so each page runs --runs times
(3), interleaved with the other pages; the table shows the median performance
score and the worst of the others. Below the table, for every page under the bar,
the audits that cost it the most time. Exits 1 when a page scores under 0.9 for
performance or under 1.0 for accessibility, best practices or SEO.
"""

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

from browser_support import SiteServer  # noqa: E402 - needs the path above

LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
BARS = {"performance": 0.9, "accessibility": 1.0, "best-practices": 1.0, "seo": 1.0}
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"
METRICS = ("FCP", "LCP", "TBT")  # the time metrics an audit's savings are given in


class Quiet(http.server.SimpleHTTPRequestHandler):
    """The stdlib's handler, as `python -m http.server` serves: no compression."""

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass


def chromium():
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("lighthouse: needs Debian's Chromium ('apt-get install chromium'), "
             "or CHROMIUM=/path/to/chromium")


def build(site):
    print("building the site ...", flush=True)
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                             "--site-dir", str(site)], cwd=ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"lighthouse: the build failed\n{result.stderr[-3000:]}")


def pages(site):
    """The URL path of every page (each index.html; not the 404 page)."""
    found = sorted(p.parent.relative_to(site).as_posix()
                   for p in site.rglob("index.html"))
    return [("" if p == "." else p + "/") for p in found]


def lighthouse(url, report, chrome):
    command = [str(LIGHTHOUSE), url, "--quiet", "--output=json",
               f"--output-path={report}", f"--chrome-flags={CHROME_FLAGS}",
               "--only-categories=" + ",".join(CATEGORIES)]
    result = subprocess.run(command, env={**os.environ, "CHROME_PATH": chrome},
                            capture_output=True, text=True)
    if result.returncode != 0 or not report.exists():
        sys.exit(f"lighthouse failed on {url}:\n{result.stderr[-3000:]}")
    data = json.loads(report.read_text())
    if data.get("runtimeError"):
        sys.exit(f"lighthouse failed on {url}: {data['runtimeError']['message']}")
    return data


def scores(data):
    """The four scores, 0 to 1 (a category Lighthouse could not score counts 0)."""
    return {c: data["categories"][c]["score"] or 0.0 for c in CATEGORIES}


def costly_audits(data, count=3):
    """The performance audits that cost the most: by the time Lighthouse says
    fixing each would save, then the failing diagnostics."""
    audits = data["audits"]
    refs = data["categories"]["performance"]["auditRefs"]
    ranked = []
    for ref in refs:
        audit = audits[ref["id"]]
        if ref.get("group") == "metrics" or audit.get("score") in (None, 1):
            continue  # a metric itself, passed, or not scored
        savings = audit.get("metricSavings") or {}
        saved = sum(savings.get(m) or 0 for m in METRICS)
        ranked.append((-saved, audit["score"], audit["id"], audit))
    ranked.sort(key=lambda r: r[:3])
    return [(audit["id"], audit.get("displayValue") or audit["title"], -saved)
            for saved, _, _, audit in ranked[:count]]


def metrics(data):
    a = data["audits"]
    names = {"first-contentful-paint": "FCP", "largest-contentful-paint": "LCP",
             "total-blocking-time": "TBT", "cumulative-layout-shift": "CLS",
             "speed-index": "SI"}
    return "  ".join(f"{short} {a[k].get('displayValue', '?')}"
                     for k, short in names.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one)")
    parser.add_argument("--runs", type=int, default=3, help="runs per page (3)")
    parser.add_argument("--no-gzip", action="store_true",
                        help="serve the files uncompressed")
    parser.add_argument("--reports", type=Path, help="keep the JSON reports here")
    parser.add_argument("page", nargs="*", help="URL paths (default: every page)")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit("lighthouse: run 'npm ci' first (or 'make lighthouse')")
    chrome = chromium()
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            build(site)
        paths = [p.lstrip("/") for p in args.page] or pages(site.resolve())
        reports = args.reports or Path(tmp) / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        runs = {path: [] for path in paths}
        with SiteServer(site.resolve()) as server:
            if args.no_gzip:
                server.httpd.RequestHandlerClass = functools.partial(
                    Quiet, directory=str(site.resolve()))
            mode = "raw" if args.no_gzip else "gzip"
            print(f"lighthouse, mobile (default), {args.runs} runs per page, "
                  f"served with {mode}, on {server.base}", flush=True)
            for run in range(args.runs):
                for path in paths:
                    name = (path.strip("/").replace("/", "_") or "home")
                    report = reports / f"{name}-{run}.json"
                    data = lighthouse(server.base + path, report, chrome)
                    runs[path].append(data)
                    print(f"  run {run + 1}: /{path}  "
                          f"performance {scores(data)['performance']:.2f}", flush=True)
    return report_table(runs)


def report_table(runs):
    width = max(len(p) for p in runs) + 2
    some = next(iter(runs.values()))[0]
    chrome = re.search(r"Chrome/[\d.]+", some["environment"]["hostUserAgent"])
    print(f"\nLighthouse {some['lighthouseVersion']}, "
          f"{chrome.group(0) if chrome else 'Chromium'}")
    print(f"{'page':{width}}" + "".join(f"{c:>16}" for c in CATEGORIES))
    failed = []
    for path, datas in runs.items():
        perf = [scores(d)["performance"] for d in datas]
        median = statistics.median(perf)
        row = {"performance": median}
        for c in CATEGORIES[1:]:
            row[c] = min(scores(d)[c] for d in datas)
        cells = []
        for c in CATEGORIES:
            mark = "" if row[c] >= BARS[c] else " !"
            cells.append(f"{row[c]:.2f}{mark}")
        spread = f"  ({', '.join(f'{p:.2f}' for p in perf)})" if len(perf) > 1 else ""
        print(f"/{path:{width - 1}}" + "".join(f"{s:>16}" for s in cells) + spread)
        if any(row[c] < BARS[c] for c in CATEGORIES):
            typical = min(datas, key=lambda d: abs(scores(d)["performance"] - median))
            failed.append((path, row, typical))
    for path, row, data in failed:
        print(f"\n/{path}: {metrics(data)}")
        if row["performance"] < BARS["performance"]:
            for audit, value, saved in costly_audits(data):
                gain = f" (saves ~{saved:.0f} ms)" if saved else ""
                print(f"  {audit}: {value}{gain}")
        for c in CATEGORIES[1:]:
            if row[c] < BARS[c]:
                bad = [ref["id"] for ref in data["categories"][c]["auditRefs"]
                       if data["audits"][ref["id"]].get("score") == 0]
                print(f"  {c} {row[c]:.2f}: failing {', '.join(bad) or '?'}")
    if failed:
        print(f"\n{len(failed)} of {len(runs)} pages under the bar "
              f"(performance 0.9, the others 1.0)")
        return 1
    print(f"\nevery page at or above the bar ({len(runs)} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
