"""What a reader sees is what is compared: output captured at the file-descriptor
level, compiler flags carried over, and the deprecation gate."""


import pytest
from pages import run
from pages import write_page as page


def test_output_of_every_kind_lands_in_its_block_in_order(pytester):
    page(pytester, "fd.md", '''
        ```python
        import logging, os, subprocess, sys
        log = logging.getLogger("page")
        log.addHandler(logging.StreamHandler())  # holds this sys.stderr
        print("one")
        ```

        <!--pytest-codeblocks:expected-output-->
        ```text
        one
        ```

        ```python
        print("a")
        os.write(1, b"b\\n")
        subprocess.run(["echo", "c"])
        sys.stdout.buffer.write(b"d\\n")
        print("e")
        ```

        <!--pytest-codeblocks:expected-output-->
        ```text
        a
        b
        c
        d
        e
        ```

        ```python
        log.warning("to stderr, not compared")
        os.write(2, b"also stderr\\n")
        raise SystemExit("show me the captured stderr")
        ```
    ''')
    result = run(pytester, "fd.md")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["--- captured stderr ---", "to stderr, not compared",
                                 "also stderr"])


def test_future_imports_carry_over_to_later_blocks(pytester):
    page(pytester, "future.md", '''
        ```python
        from __future__ import annotations
        ```

        ```python
        def f(x: NotDefinedAnywhere) -> int:
            return 1
        assert f.__annotations__["x"] == "NotDefinedAnywhere"
        ```
    ''')
    run(pytester, "future.md").assert_outcomes(passed=2)


LIBRARY = '''
        ```python
        import sys
        open("oldlib.py", "w").write(
            "import warnings\\n"
            "def call():\\n"
            "    warnings.warn('call() is deprecated', {category}, stacklevel=1)\\n")
        sys.path.insert(0, ".")
        import oldlib
        ```

        {directive}
        ```python
        x = 1
        oldlib.call()
        ```
'''


@pytest.mark.parametrize("category", ["DeprecationWarning",
                                      "PendingDeprecationWarning", "FutureWarning"])
def test_a_deprecation_inside_a_library_fails_the_block(pytester, category):
    page(pytester, "dep.md", LIBRARY.format(category=category, directive=""))
    result = run(pytester, "dep.md")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        f"dep.md:14: {category}: call() is deprecated",
        "*accept the warning with a directive*",
        f'*<!--pytest.mark.filterwarnings("ignore:call\\(\\)\\ is\\ deprecated:'
        f'{category}")-->',
        f"dep.md:14: {category}: call() is deprecated",
        "    raised at */oldlib.py:3"])


def test_a_filterwarnings_directive_accepts_a_warning(pytester):
    directive = ('<!--pytest.mark.filterwarnings("ignore:call.. is deprecated:'
                 'DeprecationWarning")-->')
    page(pytester, "ok.md", LIBRARY.format(category="DeprecationWarning",
                                           directive=directive))
    run(pytester, "ok.md").assert_outcomes(passed=2)


def test_a_filterwarnings_directive_that_matches_nothing_fails(pytester):
    directive = ('<!--pytest.mark.filterwarnings("ignore:something else:'
                 'DeprecationWarning")-->')
    page(pytester, "stale.md", LIBRARY.format(category="UserWarning",
                                              directive=directive))
    result = run(pytester, "stale.md")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "stale.md:11: the filterwarnings directive 'ignore:something else:"
        "DeprecationWarning' matched no warning while this block ran, on any of its "
        "1 reader path; remove it"])


TWO_PATHS = '''
    ```python
    import warnings
    ```

    === "A"

        ```python
        backend = "old"
        ```

    === "B"

        ```python
        backend = "new"
        ```

    {directive}
    ```python
    if backend == {warns!r}:
        warnings.warn("old API", DeprecationWarning)
    ```
'''


def test_a_filter_one_reader_path_needs_is_not_stale_on_the_others(pytester):
    """A library may warn on one path only (one Keras backend, say); the filter on
    the shared block is used if any path needed it, and stale if none did."""
    accept = '<!--pytest.mark.filterwarnings("ignore:old API:DeprecationWarning")-->'
    page(pytester, "paths.md", TWO_PATHS.format(directive=accept, warns="old"))
    run(pytester, "paths.md").assert_outcomes(passed=6)
    page(pytester, "stale.md", TWO_PATHS.format(directive=accept, warns="neither"))
    result = run(pytester, "stale.md")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*stale.md:17: the filterwarnings directive "
                                 "'ignore:old API:DeprecationWarning' matched no "
                                 "warning*on any of its 2 reader paths; remove it"])


def test_other_warnings_are_shown_not_failed(pytester):
    page(pytester, "user.md", '''
        ```python
        import warnings
        warnings.warn("just so you know", UserWarning)
        ```
    ''')
    run(pytester, "user.md").assert_outcomes(passed=1)


def test_a_long_mismatch_is_cut_and_saved_whole(pytester):
    page(pytester, "long.md", '''
        ```python
        for i in range(500):
            print("line", i)
        ```

        <!--pytest-codeblocks:expected-output-->
        ```text
        nothing like it
        ```
    ''')
    result = run(pytester, "long.md")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["line 39", "... (460 more lines, * characters in "
                                 "all: */.cache/mismatches/long.md-L7.txt)"])
    assert "line 41" not in result.stdout.str()
    saved = (pytester.path / ".cache" / "mismatches" / "long.md-L7.txt").read_text()
    assert "line 499" in saved and "nothing like it" in saved


def test_the_summary_appears_under_xdist(pytester):
    page(pytester, "a.md", "```python\nx = 1\n```\n")
    page(pytester, "b.md", "```python\nx = 2\n```\n\n```text\nshown\n```\n")
    result = run(pytester, "a.md", "b.md", "-n", "2")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines([
        "*code blocks*",
        "docs: 3 blocks on 2 pages (2 paths): 2 passed, 0 outputs checked, "
        "1 skipped, 0 failed",
        "isolation: *",
        "blocks not executed:",
        "  b.md::L5  skipped: a text block is shown to readers, not run"])
