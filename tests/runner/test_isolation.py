"""Isolation of a page session: the repository read-only, loopback only, and every
process a page starts ended with it. Each hostile page is in corpus/isolation/."""

import os
import socket
import uuid
from pathlib import Path

import pytest
from pages import fill_page, leftover_sleepers, run

NAMESPACES = os.geteuid() == 0 and Path("/proc/self/ns/pid").exists()
needs_namespaces = pytest.mark.skipif(not NAMESPACES,
                                      reason="needs root for namespaces")


def corpus_page(pytester, name, **values):
    return fill_page(pytester, "isolation", name, **values)


@needs_namespaces
@pytest.mark.parametrize("name", [
    "write-os-system.md", "write-subprocess-touch.md", "write-sqlite.md",
    "write-ctypes.md", "write-dir-fd.md", "write-chmod.md", "write-c-level-save.md",
])
def test_writes_the_audit_hook_cannot_see_meet_a_read_only_repository(pytester,
                                                                       name):
    run(pytester, corpus_page(pytester, name)).assert_outcomes(passed=1)
    assert [p.name for p in pytester.path.iterdir() if "escaped" in p.name] == []


@pytest.mark.parametrize("mode", ["namespaces", "audit"])
def test_reading_the_repository_is_allowed_and_folders_stay_writable(
        pytester, monkeypatch, mode):
    if mode == "audit":
        monkeypatch.setenv("MDRUN_ISOLATION", "audit")
    elif not NAMESPACES:
        pytest.skip("needs root for namespaces")
    names = [corpus_page(pytester, "read-repository.md"),
             corpus_page(pytester, "writable-places.md")]
    run(pytester, *names).assert_outcomes(passed=2)


def test_the_audit_fallback_refuses_python_writes_and_says_so(pytester,
                                                               monkeypatch):
    monkeypatch.setenv("MDRUN_ISOLATION", "audit")
    pytester.makefile(".md", write=f'```python\nopen({str(pytester.path / "x")!r}, '
                                   '"w")\n```\n')
    result = run(pytester, "write.md")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "write.md:2: PermissionError: code blocks may not write into the repository*",
        "isolation: 1 paths in the in-process guard only (MDRUN_ISOLATION=audit)"])


@needs_namespaces
def test_only_loopback_is_up_and_the_hosts_loopback_is_out_of_reach(pytester):
    with socket.create_server(("127.0.0.1", 0)) as host:
        port = host.getsockname()[1]
        name = corpus_page(pytester, "network-loopback-only.md", port=port)
        result = run(pytester, name)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["isolation: namespaces (repository read-only, "
                                 "loopback only, every process ends with its page)"])


@pytest.mark.parametrize("mode", ["namespaces", "audit"])
def test_processes_a_page_detached_end_with_it(pytester, monkeypatch, mode):
    if mode == "audit":
        monkeypatch.setenv("MDRUN_ISOLATION", "audit")
    elif not NAMESPACES:
        pytest.skip("needs root for namespaces")
    marker = 900000 + uuid.uuid4().int % 99999
    run(pytester, corpus_page(pytester, "detached-children.md", marker=marker)
        ).assert_outcomes(passed=1)
    assert leftover_sleepers(marker) == []


@pytest.mark.parametrize("mode", ["namespaces", "audit"])
def test_a_block_that_signals_its_parent_fails_and_only_its_page(pytester,
                                                                 monkeypatch, mode):
    if mode == "audit":
        monkeypatch.setenv("MDRUN_ISOLATION", "audit")
    elif not NAMESPACES:
        pytest.skip("needs root for namespaces")
    result = run(pytester, corpus_page(pytester, "kill-parent.md"),
                 corpus_page(pytester, "fine.md"))
    result.assert_outcomes(failed=1, skipped=1, passed=1)
    result.stdout.fnmatch_lines(["kill-parent.md:3: PermissionError: code blocks may "
                                 "not signal the runner*"])


def test_a_parent_killed_past_the_guard_fails_its_page_only(pytester, monkeypatch):
    monkeypatch.setenv("MDRUN_ISOLATION", "audit")
    result = run(pytester, corpus_page(pytester, "kill-parent-subprocess.md"),
                 corpus_page(pytester, "fine.md"))
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["kill-parent-subprocess.md:3: the interpreter was "
                                 "killed by signal SIGKILL while running this block"])


@pytest.mark.parametrize("mode, killed", [
    # The fallback lets a block reach the server: it dies, is replaced, and only
    # the page that killed it fails.
    ("audit", "the runner's fork server died while this block ran"),
    # In its PID namespace the page's grandparent is "pid 0": `kill -9 0` ends the
    # block's own process group, and nothing outside the page.
    pytest.param("namespaces", "the interpreter was killed by signal SIGKILL",
                 marks=needs_namespaces),
])
def test_a_block_that_kills_its_parents_fails_alone(pytester, monkeypatch, mode,
                                                    killed):
    monkeypatch.setenv("MDRUN_ISOLATION", mode)
    names = [corpus_page(pytester, "kill-fork-server.md"),
             corpus_page(pytester, "fine.md"), corpus_page(pytester, "segfault.md")]
    result = run(pytester, *names, "--codeblocks-workers", "1")
    result.assert_outcomes(failed=2, skipped=1, passed=1)
    result.stdout.fnmatch_lines_random([
        f"kill-fork-server.md:3: {killed}*",
        "segfault.md:4: the interpreter was killed by signal SIGSEGV*"])


@pytest.mark.parametrize("preload", ["", "numpy"])
def test_a_segfault_names_the_crashing_line_with_or_without_preload(pytester,
                                                                     preload):
    pytester.makeini(f"[pytest]\ncodeblocks_preload = {preload}\n")
    result = run(pytester, corpus_page(pytester, "segfault.md"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["segfault.md:4: the interpreter was killed by signal SIGSEGV while running "
         "this block"])
