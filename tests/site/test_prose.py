"""Prose cannot drift from the pins: a library version named as current is installed.

A page may name a past version to date a change ("since TensorFlow 2.16", "before
NumPy 2.0"); a version named without such a word, or any full x.y.z version, is a
claim about what the site runs, and must be the installed one. Code blocks and their
outputs are left out: the runner already checks what they print.
"""

import re
from importlib.metadata import version

from project import ROOT, parsed_pages

LIBRARIES = {"NumPy": "numpy", "PyTorch": "torch", "torch": "torch",
             "TensorFlow": "tensorflow-cpu", "Keras": "keras",
             "scikit-learn": "scikit-learn", "Matplotlib": "matplotlib"}
MENTION = re.compile(r"\b(?P<name>" + "|".join(map(re.escape, LIBRARIES))
                     + r")\s+v?(?P<version>\d+\.\d+(?:\.\d+)?)\b", re.IGNORECASE)
# Words that date a version instead of claiming it is the one installed.
DATING = re.compile(r"\b(since|before|until|after|from|in|as of|introduced|added|"
                    r"removed|deprecated|era|older|earlier|newer|later|up to|through"
                    r"|pre|post|between|than|with)\W*(the\s*)?$", re.IGNORECASE)
DATED_AFTER = re.compile(r"^\W*(was |were )?(released|release|followed|came|shipped"
                         r"|introduced|brought|added|removed|changed|and later"
                         r"|and newer)", re.IGNORECASE)
CODE_SPAN = re.compile(r"`[^`]*`")

def prose(text, page):
    """The page's lines outside code blocks and outputs, with their numbers."""
    hidden = set()
    for block in page.blocks:
        for fence in (block, block.output):
            if fence is not None:
                hidden.update(range(fence.line, fence.end + 1))
    return [(n, line) for n, line in enumerate(text.split("\n"), start=1)
            if n not in hidden]


def drifted(line):
    """The version claims in one line of prose that differ from what is installed."""
    found = []
    line = CODE_SPAN.sub("", line)  # inline code is an example, not a claim
    for match in MENTION.finditer(line):
        name = next(n for n in LIBRARIES if n.lower() == match["name"].lower())
        installed = version(LIBRARIES[name]).split("+")[0]
        claimed = match["version"]
        if installed == claimed or installed.startswith(claimed + "."):
            continue
        dated = DATING.search(line[:match.start()].rstrip()[-25:]) or \
            DATED_AFTER.search(line[match.end():][:30])
        if claimed.count(".") == 1 and dated:
            continue
        found.append(f"{name} {claimed} (installed: {installed})")
    return found


def test_prose_names_only_the_installed_versions_as_current():
    problems = []
    for source, page in [(ROOT / "README.md", None), *parsed_pages()]:
        text = source.read_text(encoding="utf-8")
        rows = prose(text, page) if page else list(enumerate(text.split("\n"), 1))
        name = source.relative_to(ROOT).as_posix()
        problems += [f"{name}:{n}: {claim}" for n, line in rows
                     for claim in drifted(line)]
    assert not problems, ("prose names versions that are not installed; print them "
                          "from code, or date them ('since ...'):\n"
                          + "\n".join(problems))


def test_the_check_tells_a_dated_version_from_a_stale_claim():
    keras = version("keras")
    major, minor = keras.split(".")[:2]
    stale = f"{major}.{int(minor) + 1}"
    assert drifted(f"This page runs Keras {stale}.") != []
    assert drifted(f"This page runs Keras {keras}.") == []
    assert drifted(f"This page runs Keras {major}.{minor}.") == []
    assert drifted("Keras 3 is the default since TensorFlow 2.16.") == []
    assert drifted("as it was before NumPy 2.0") == []
    assert drifted("NumPy 1.26.4 printed it differently") != []
    assert drifted("PyTorch 2.0 followed in March 2023.") == []
    assert drifted("PyTorch 2.0 adds torch.compile.") != []
    assert drifted("as described in the PyTorch 2.0") == []
