"""The results file: what the last test run verified, page by page.

The runner writes it as block outcomes arrive; the build reads it to stamp each
page. A page's record holds a hash of the page text it ran, so a page edited since
its last run is not claimed as verified.
"""

import hashlib
import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(".cache") / "verified.json"


def page_hash(text):
    return hashlib.sha256(text.encode()).hexdigest()


def load(root):
    path = Path(root) / RESULTS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save(root, records):
    path = Path(root) / RESULTS
    path.parent.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        json.dump(records, out, indent=1, sort_keys=True)
    os.replace(tmp, path)


ORDER = ("Python", "NumPy", "TensorFlow", "Keras", "PyTorch")


def new_record(text, total, blocks=None, paths=1):
    """A page's record: `total` block runs (a block runs once per reader path)."""
    return {"sha256": page_hash(text), "total": total, "passed": 0, "skipped": 0,
            "blocks": total if blocks is None else blocks, "paths": paths,
            "failed": 0, "date": datetime.now(UTC).date().isoformat(),
            "versions": {"Python": platform.python_version()}}


def verdict(record, text):
    """(verified?, sentence) for a page whose current text is `text`."""
    if not record:
        return False, "No test results for this page yet."
    if record["sha256"] != page_hash(text):
        return False, "The page changed after its last test run."
    ran = record["passed"] + record["skipped"] + record["failed"]
    if record["failed"] or ran < record["total"]:
        return False, (f"In the last run, on {record['date']}, "
                       f"{record['failed']} of {record['total']} blocks failed or "
                       f"{record['total'] - ran} did not run.")
    versions = " · ".join(f"{name} {record['versions'][name]}" for name in ORDER
                          if name in record["versions"])
    skipped = f", {record['skipped']} skipped" if record["skipped"] else ""
    paths = record.get("paths", 1)
    runs = (f"{record['blocks']} code blocks on {paths} reader paths: "
            f"{record['passed']} of {record['total']} runs passed" if paths > 1 else
            f"{record['passed']} of {record['total']} code blocks passed")
    return True, f"Verified on {record['date']}: {runs}{skipped}, with {versions}."
