"""SIGTERM and Ctrl-C (SIGINT) to pytest end every page session at once, with
every process it started, and remove their temporary folders."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pages import fill_page, leftover_sleepers


@pytest.mark.parametrize("mode", ["namespaces", "audit"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_every_session_at_once(pytester, tmp_path_factory, signum,
                                             mode):
    if mode == "namespaces" and os.geteuid() != 0:
        pytest.skip("needs root for namespaces")
    marker = 900000 + uuid.uuid4().int % 99999
    flag = tmp_path_factory.mktemp("flag") / "started"
    name = fill_page(pytester, "isolation", "hang-with-child.md", marker=marker,
                     flag=flag)
    env = {**os.environ, "MDRUN_ISOLATION": mode}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "-o", "codeblocks_timeout=60", name], cwd=pytester.path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert flag.exists(), proc.communicate(timeout=60)[0]
    workdir = Path(flag.read_text())
    proc.send_signal(signum)
    out = proc.communicate(timeout=30)[0]  # well before the block's 50 s sleep
    assert proc.returncode != 0, out
    assert not workdir.parent.parent.exists(), out  # the run's temporary folder
    assert leftover_sleepers(marker) == [], out
