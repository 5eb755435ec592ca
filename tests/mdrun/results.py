"""The verification record: what the last test run verified, page by page.

It lives beside the pages, in docs/verified.json, and is committed with them, so a
fresh clone's build stamps each page from it. The runner writes a page's record as
its blocks finish; the build reads it. A record holds a hash of the page text and of
requirements.lock as they ran, so a page edited since is not claimed as verified.
A record also holds each reader path's wall time ("seconds", by tab label, "" for
an untabbed page), which the scheduler and --shard balance on. A record that is
unchanged but for its date, and for times within a quarter (or a second) of the
old ones, keeps its old date and times, so the file only changes when something
verified changed. Runs that end at once (two terminals, two shards) each write
their own pages, under a lock.
"""

import fcntl
import hashlib
import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

RECORD = Path("docs") / "verified.json"
LOCK = "requirements.lock"
# The libraries a stamp names, in the order it names them.
LIBRARIES = {"numpy": "NumPy", "torch": "PyTorch", "tensorflow": "TensorFlow",
             "keras": "Keras"}
ORDER = ("Python", *LIBRARIES.values())


class RecordError(Exception):
    """The record file cannot be read; the message says which file and why."""


def page_hash(text):
    return hashlib.sha256(text.encode()).hexdigest()


def lock_hash(root):
    """The hash of the project's requirements.lock, or None without one."""
    path = Path(root) / LOCK
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() \
        else None


def load(root):
    """Every page's record, {} when there is no record file yet."""
    path = Path(root) / RECORD
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        records = json.loads(text)
    except ValueError as error:
        raise RecordError(f"{RECORD}: not valid JSON ({error}); restore it from "
                          "git, or delete it and run 'make test' to write it again"
                          ) from None
    if not isinstance(records, dict) or not all(
            isinstance(r, dict) and "sha256" in r for r in records.values()):
        raise RecordError(f"{RECORD}: not a verification record (page -> record); "
                          "restore it from git or delete it and run 'make test'")
    return records


def _close(old, new):
    """Two wall times that differ by no more than noise."""
    return abs(old - new) <= max(1.0, 0.25 * old)


def _steady(old, record):
    """The record, keeping the old date and times where only noise moved."""
    if old is None:
        return record
    if "seconds" not in record and "seconds" in old:  # a run that took no times
        record = {**record, "seconds": old["seconds"]}
    seconds = record.get("seconds", {})
    kept = {label: old["seconds"][label] if label in old.get("seconds", {}) and
            _close(old["seconds"][label], value) else value
            for label, value in seconds.items()}
    steady = {**record, "seconds": kept} if "seconds" in record else record
    if {**old, "date": record["date"]} == steady:
        return {**steady, "date": old["date"]}
    return steady


def save(root, pages):
    """Write these pages' records into the record file, atomically and under a
    lock, keeping every other page's record as the file has it now."""
    path = Path(root) / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".verified.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            records = load(root)
        except RecordError:
            records = {}
        for page, record in pages.items():
            records[page] = _steady(records.get(page), record)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(records, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)


def new_record(text, total, blocks=None, paths=1, lock=None):
    """A page's record: `total` block runs (a block runs once per reader path)."""
    return {"sha256": page_hash(text), "total": total, "passed": 0, "skipped": 0,
            "blocks": total if blocks is None else blocks, "paths": paths,
            "failed": 0, "date": datetime.now(UTC).date().isoformat(), "lock": lock,
            "versions": {"Python": platform.python_version()}}


def seconds(record):
    """A page's recorded wall time, its paths' times added up; None if unknown."""
    times = (record or {}).get("seconds")
    return None if times is None else sum(times.values())


def stale(record, text, lock):
    """Why `record` does not cover this page text and lock, or None if it does."""
    if not record:
        return "it has no record"
    if record["sha256"] != page_hash(text):
        return "the page changed after its last test run"
    if lock is not None and record.get("lock") != lock:
        return "requirements.lock changed after its last test run"
    return None


def verdict(record, text, lock=None):
    """(state, sentence) for a page whose current text is `text`.

    state is "verified", "failed", "changed" (text or packages changed since the
    record) or "unverified" (no record).
    """
    if not record:
        return "unverified", "Not yet verified: no test run has recorded this page."
    date = record["date"]
    why = stale(record, text, lock)
    if why:
        what = "packages" if "lock" in why else "page"
        return "changed", (f"The {what} changed after its last verified run, "
                           f"on {date}; it is verified again by the next test run.")
    ran = record["passed"] + record["skipped"] + record["failed"]
    if record["failed"] or ran < record["total"]:
        return "failed", (f"In the last test run, on {date}, {record['failed']} of "
                          f"{record['total']} blocks failed and "
                          f"{record['total'] - ran} did not run.")
    versions = " · ".join(f"{name} {record['versions'][name]}" for name in ORDER
                          if name in record["versions"])
    paths = record.get("paths", 1)
    blocks = f"{record['blocks']} blocks" + (
        f" on {paths} reader paths" if paths > 1 else "")
    outcome = f"{record['skipped']} runs skipped, the rest passed" \
        if record["skipped"] else "all passed"
    return "verified", f"Verified on {date} · {blocks}, {outcome} · {versions}"
