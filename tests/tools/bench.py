"""`make bench`: the runner's speed against pytest-codeblocks, measured side by side.

Generates a corpus of self-contained pages (each block imports what it needs and
does a little real work), then times, alternating in one run, the runner (a fresh
interpreter per page, pages in parallel) and `pytest --codeblocks` (all blocks in
the pytest process), and prints the median wall times and their ratio. Then it runs
the real docs twice, with TensorFlow and Keras imported by each path (cold) and from
warm interpreters, and prints each reader path's start-up, block and wall times,
the scheduler's wall against the floor (the ideal), and the time the warm
interpreters take off the paths that import TensorFlow or Keras.

The corpus's floor is measured too: its blocks run bare, all in this process as
pytest-codeblocks runs them, and one fresh forked process per page as the runner
runs them (a new process pays for fresh memory that a long-lived one reuses).
A runner that keeps that guarantee can at best add pytest's own start-up to the
forked blocks' time spread over the cores.
"""

import json
import os
import pickle
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


def block_seconds(docs, fork):
    """The corpus blocks' own time: in this process, or a forked child per page."""
    total = 0.0
    for page in sorted(docs.glob("*.md")):
        blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
        if not fork:
            total += _run_blocks(blocks)
            continue
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, pickle.dumps(_run_blocks(blocks)))
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as answer:
            total += pickle.loads(answer.read())
        os.waitpid(pid, 0)
    return total


def _run_blocks(blocks):
    namespace, took = {}, 0.0
    for block in blocks:
        code = compile(block, "<corpus>", "exec")
        start = time.perf_counter()
        exec(code, namespace)
        took += time.perf_counter() - start
    return took


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
        floors = {"in-process": [], "forked": [], "start-up": []}
        for _ in range(ROUNDS):
            for name, command in commands.items():
                times[name].append(timed(command, folder, env))
            floors["in-process"].append(block_seconds(folder / "docs", fork=False))
            floors["forked"].append(block_seconds(folder / "docs", fork=True))
            floors["start-up"].append(collect_seconds(commands["runner (mdrun)"],
                                                      folder, env))
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
    floor = {name: statistics.median(t) for name, t in floors.items()}
    cores = os.cpu_count() or 1
    best = floor["start-up"] + floor["forked"] / cores
    print(f"the corpus's blocks alone: {floor['in-process']:.2f} s in one process, "
          f"{floor['forked']:.2f} s in a fresh fork per page; the runner's start-up "
          f"and collection {floor['start-up']:.2f} s")
    print(f"floor for a fresh interpreter per page on {cores} cores: {best:.2f} s "
          f"(start-up + forked blocks / cores), ratio to pytest-codeblocks "
          f"{best / medians['pytest-codeblocks']:.2f}; the runner is "
          f"{medians['runner (mdrun)'] / best:.2f}x that floor")

    print()
    # The runs would write their times into the pages' record; the cold one is not
    # how the pages run, so the record is put back as it was.
    record = ROOT / "docs" / "verified.json"
    kept = record.read_bytes()
    try:
        cold = real_docs("cold: Keras and TensorFlow not preloaded", COLD_PRELOAD)
        warm = real_docs("warm: one preloaded interpreter per Keras backend", None)
    finally:
        record.write_bytes(kept)
    keras_paths = [key for key in warm if key in cold and
                   cold[key]["blocks"] - warm[key]["blocks"] > 2.0]
    if keras_paths:
        print("\nstart-up moved out of the paths that import TensorFlow or Keras "
              "(their blocks' time, cold -> warm):")
        for key in keras_paths:
            print(f"  {key[0]} [{key[1] or '-'}]: {cold[key]['blocks']:.1f} s -> "
                  f"{warm[key]['blocks']:.1f} s (start-up {cold[key]['startup']:.2f}"
                  f" s -> {warm[key]['startup']:.2f} s)")


def collect_seconds(command, cwd, env):
    """Wall time of the command's pytest start-up and collection alone."""
    start = time.perf_counter()
    subprocess.run(command + ["--collect-only"], cwd=cwd, env=env,
                   capture_output=True, check=True)
    return time.perf_counter() - start


# The preload setting without TensorFlow and Keras: every path imports them itself.
COLD_PRELOAD = "numpy\ntorch\nsklearn.datasets"  # an ini line list


def real_docs(title, preload):
    """Run the real pages once; print each path's times, the wall and the floor."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "docs", "README.md", f"--codeblocks-timings={out.name}"]
        if preload is not None:
            command += ["-o", f"codeblocks_preload={preload}"]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"the real docs failed ({title}):\n{result.stdout[-3000:]}")
        timings = json.loads(Path(out.name).read_text())
    paths = sorted(timings["paths"], key=lambda p: -(p["wall"] or 0))
    print(f"the real docs, {title}:")
    print(f"  {'reader path':44s} {'start-up':>9s} {'blocks':>8s} {'wall':>8s}")
    for path in paths:
        name = path["page"] + (f" [{path['label']}]" if path["label"] else "")
        print(f"  {name:44s} {path['startup'] or 0:8.2f}s {path['blocks']:7.1f}s "
              f"{path['wall'] or 0:7.1f}s")
    workers = timings["workers"]
    total = sum(p["blocks"] for p in paths)
    ideal = max(total / workers, max(p["blocks"] for p in paths))
    wall = timings["wall"]
    print(f"  scheduler wall {wall:.1f} s; ideal {ideal:.1f} s (the blocks' "
          f"{total:.1f} s on {workers} workers, or the longest path's blocks if "
          f"larger); wall / ideal {wall / ideal:.2f} (goal <= 1.05)")
    return {(p["page"], p["label"]): p for p in paths}


if __name__ == "__main__":
    main()
