"""Split a run into N shards that take about as long as each other.

`pytest --shard K/N` runs shard K of N. Pages are never split, so every reader
path of a page runs in one shard: pages are dealt out longest first (by their
wall time in the verification record) to the shard with the least so far, which
keeps each shard within the longest page of an even share. Pages with no recorded
time count as the mean of those with one. Other test files are dealt out the same
way, weighed by their number of tests. The shards of one N are disjoint and
together hold every test.
"""

import re

SPEC = re.compile(r"(\d+)/(\d+)")


class ShardError(ValueError):
    """A --shard value that is not K/N with 1 <= K <= N."""


def parse(value):
    """(K, N) from "K/N"; ShardError says what is wrong."""
    match = SPEC.fullmatch(value.strip())
    if not match:
        raise ShardError(f"--shard {value!r}: expected K/N, two whole numbers such as "
                         "1/2 (run the first of two shards)")
    k, n = int(match[1]), int(match[2])
    if n < 1 or not 1 <= k <= n:
        raise ShardError(f"--shard {value}: K must be between 1 and N, and N at "
                         f"least 1 (the shards of {n} are 1/{n} to {n}/{n})")
    return k, n


def deal(weights, n):
    """Deal names out to n shards, heaviest first, each to the lightest shard.

    weights: {name: weight or None}; None counts as the mean of the known weights
    (1.0 when none is known). Returns n lists of names. Ties break by name, so the
    split is the same on every machine.
    """
    known = [w for w in weights.values() if w is not None]
    default = sum(known) / len(known) if known else 1.0
    filled = {name: default if w is None else w for name, w in weights.items()}
    shards, loads = [[] for _ in range(n)], [0.0] * n
    for name in sorted(filled, key=lambda name: (-filled[name], name)):
        lightest = min(range(n), key=lambda i: (loads[i], i))
        shards[lightest].append(name)
        loads[lightest] += filled[name]
    return shards
