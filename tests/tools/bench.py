"""`make bench`: the runner's speed against pytest-codeblocks, measured side by side.

Generates a corpus of self-contained pages (each block imports what it needs and
does a little real work), then times, alternating in one run, the runner (a fresh
interpreter per page, pages in parallel) and `pytest --codeblocks` (all blocks in
the pytest process), and prints the median wall times and their ratio. Then it runs
the real docs once and prints the runner's overhead on them.
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES, BLOCKS, ROUNDS = 40, 6, 3

BLOCK_BODIES = [
    "import math\ntotal = sum(math.sqrt(i) for i in range({n}))\nassert total > 0",
    "import json\ndata = [{{'id': i, 'sq': i * i}} for i in range({n} // 10)]\n"
    "assert json.loads(json.dumps(data)) == data",
    "import statistics\nvalues = [(i * 7919) % 1000 for i in range({n})]\n"
    "assert 0 <= statistics.mean(values) < 1000",
    "import re\ntext = ' '.join(str(i) for i in range({n} // 10))\n"
    "assert len(re.findall(r'\\d+', text)) == {n} // 10",
    "from collections import Counter\nc = Counter(i % 17 for i in range({n}))\n"
    "assert sum(c.values()) == {n}",
    "import itertools\npairs = list(itertools.islice(itertools.combinations("
    "range(1000), 2), {n}))\nassert len(pairs) == {n}",
]


def make_corpus(folder):
    docs = folder / "docs"
    docs.mkdir()
    for p in range(PAGES):
        blocks = [f"Block {b} of page {p}.\n\n```python\n"
                  + BLOCK_BODIES[b % len(BLOCK_BODIES)].format(n=60_000 + 1000 * p)
                  + "\n```\n" for b in range(BLOCKS)]
        (docs / f"page_{p:02d}.md").write_text(f"# Page {p}\n\n" + "\n".join(blocks))
    return docs


def timed(command, cwd, env):
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    passed = re.search(r"(\d+) passed", result.stdout)
    if result.returncode != 0 or not passed or int(passed[1]) != PAGES * BLOCKS:
        sys.exit(f"benchmark run failed: {' '.join(command)}\n{result.stdout[-3000:]}")
    return elapsed


def main():
    env = dict(os.environ)
    python = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_corpus(folder)
        commands = {
            "runner (mdrun)": python + ["-p", "no:pytest_codeblocks", "docs"],
            "pytest-codeblocks": python + ["-p", "no:mdrun", "-p", "no:xdist",
                                           "--codeblocks", "docs"],
            "pytest-codeblocks -n 2": python + ["-p", "no:mdrun", "--codeblocks",
                                                "-n", "2", "docs"],
        }
        times = {name: [] for name in commands}
        for _ in range(ROUNDS):
            for name, command in commands.items():
                times[name].append(timed(command, folder, env))
    print(f"corpus: {PAGES} pages x {BLOCKS} blocks; {ROUNDS} alternating rounds; "
          f"{os.cpu_count()} cores")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"  {name:24s} median {median:6.2f} s   ({runs})")
    ratio = medians["runner (mdrun)"] / medians["pytest-codeblocks"]
    print(f"ratio runner / pytest-codeblocks: {ratio:.2f} (bar <= 1.0, goal <= 0.6)")
    print(f"ratio runner / pytest-codeblocks -n 2: "
          f"{medians['runner (mdrun)'] / medians['pytest-codeblocks -n 2']:.2f}")

    print("\nthe real docs (one run of the runner on docs/ and README.md):")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "docs", "README.md"],
                            cwd=ROOT, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        if line.startswith(("docs:", "time:")):
            print("  " + line)


if __name__ == "__main__":
    main()
