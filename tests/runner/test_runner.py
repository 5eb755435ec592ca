"""The code-block runner's own behaviour, on small Markdown pages run by pytester."""


import pytest
from mdrun import results
from mdrun.markdown import parse
from pages import run
from pages import write_page as page


def test_every_superfences_fence_form_runs(pytester):
    page(pytester, "forms.md", '''
        ```python
        n = 1
        ```

        ~~~py
        n += 1
        ~~~

        ````python3
        n += 1
        ````

        ```python title="a.py" hl_lines="2" linenums="1"
        n += 1
        ```

        ``` { .python .annotate }
        n += 1
        ```

        !!! note "In an admonition"

            ```python
            n += 1
            ```

        ??? tip "In a collapsible block"

            ```python
            n += 1
            ```

        1. In a list:

           ```python
           n += 1
           ```

        ```python
        assert n == 8, n
        ```
    ''')
    result = run(pytester, "forms.md", "-v")
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(["*forms.md::L1 PASSED*", "*forms.md::L35 PASSED*"])


def test_other_languages_are_checked_or_skipped_with_a_reason(pytester):
    page(pytester, "langs.md", '''
        ```bash
        echo "hello" | tr a-z A-Z
        ```

        ```yaml
        a: [1, 2]
        ```

        ```json
        {"a": 1}
        ```

        ```toml
        a = 1
        ```

        ```text
        just words
        ```
    ''')
    result = run(pytester, "langs.md", "-rs")
    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines([
        "*langs.md::L1  checked: shell syntax checked with bash -n",
        "*langs.md::L5  checked: yaml parsed",
        "*langs.md::L17  skipped: a text block is shown to readers, not run",
    ])


@pytest.mark.parametrize("lang, code, message", [
    ("json", '{"a": 1,}', "langs.md:1: this json block does not parse"),
    ("yaml", "a: [1, 2", "langs.md:1: this yaml block does not parse"),
    ("toml", "a = ", "langs.md:1: this toml block does not parse"),
    ("bash", "if then fi", "langs.md:1: this bash block does not parse*"),
])
def test_bad_data_or_shell_fails_with_its_line(pytester, lang, code, message):
    page(pytester, "langs.md", f"```{lang}\n{code}\n```\n")
    result = run(pytester, "langs.md")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{message}*"])


@pytest.mark.parametrize("text, message", [
    ("# T\n\n```pyhton\nx = 1\n```\n",
     "bad.md:3: unknown language 'pyhton'; did you mean 'python'?*"),
    ("# T\n\n```\nx = 1\n```\n", "bad.md:3: a fence without a language*"),
    ("# T\n\n```python\nx = 1\n\nmore\n", "bad.md:3: unclosed code fence ```*"),
    ("<!--pytest.mark.skp-->\n```python\nx = 1\n```\n",
     "bad.md:1: unknown directive 'pytest.mark.skp'; "
     "did you mean 'pytest.mark.skip'?*"),
    ("<!--pytest-codeblocks:expected-outptu-->\n```text\n1\n```\n",
     "bad.md:1: unknown directive 'pytest-codeblocks:expected-outptu'*"),
    ("<!--pytest.mark.skip-->\n\nSome prose.\n",
     "bad.md:1: a directive must be on the line just before a code fence"),
    ("<!--pytest-codeblocks:expected-output-->\n```text\n1\n```\n",
     "bad.md:2: expected-output must follow the python block*"),
])
def test_bad_input_is_a_collection_error_naming_file_and_line(pytester, text, message):
    page(pytester, "bad.md", text)
    result = run(pytester, "bad.md")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting bad.md*", f"*{message}"])


def test_a_page_is_one_session_in_a_fresh_interpreter_and_empty_folder(pytester):
    page(pytester, "one.md", '''
        ```python
        import os, sys
        secret = 42
        sys.flag = "set by one.md"
        assert os.listdir(".") == [".home"], os.listdir(".")
        assert os.getcwd() != os.environ.get("PWD_OF_REPO")
        ```

        ```python
        assert secret == 42
        assert __name__ == "__main__"
        ```
    ''')
    page(pytester, "two.md", '''
        ```python
        import sys
        assert "secret" not in globals()
        assert not hasattr(sys, "flag")
        import matplotlib
        assert matplotlib.get_backend().lower() == "agg"
        ```
    ''')
    run(pytester, "one.md", "two.md").assert_outcomes(passed=3)


def test_failure_names_the_markdown_line_and_skips_what_follows(pytester):
    page(pytester, "fail.md", '''
        # Fails

        ```python
        a = 1
        b = 0
        print(a / b)
        ```

        ```python
        print("never")
        ```
    ''')
    result = run(pytester, "fail.md", "-rs")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "fail.md:6: ZeroDivisionError: division by zero",
        "in the block at fail.md::L3:",
        ">    6 | print(a / b)",
        '*File "fail.md", line 6, in <module>',
        "*fail.md::L9  skipped: an earlier block of this reader session, "
        "fail.md::L3 failed",
    ])


def test_content_tabs_are_reader_paths(pytester):
    page(pytester, "tabs.md", '''
        ```python
        seen = []
        ```

        === "NumPy"

            ```python
            seen.append("numpy")
            expected = ["numpy", "numpy again"]
            ```

        === "PyTorch"

            ```python
            seen.append("torch")
            expected = ["torch"]
            ```

        === "NumPy"

            ```python
            seen.append("numpy again")
            ```

        ```python
        assert seen == expected, seen
        ```
    ''')
    result = run(pytester, "tabs.md", "-v")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*tabs.md::L1[[]NumPy[]] PASSED*",
                                 "*tabs.md::L7[[]NumPy[]] PASSED*",
                                 "*tabs.md::L21[[]NumPy[]] PASSED*",
                                 "*tabs.md::L25[[]NumPy[]] PASSED*",
                                 "*tabs.md::L1[[]PyTorch[]] PASSED*",
                                 "*tabs.md::L14[[]PyTorch[]] PASSED*",
                                 "*tabs.md::L25[[]PyTorch[]] PASSED*"])


def test_skip_skipif_importorskip_and_skipfile_say_why(pytester):
    page(pytester, "skips.md", '''
        <!--pytest.mark.skip(reason="needs a GPU")-->
        ```python
        raise SystemExit("must not run")
        ```

        <!--pytest.mark.skipif(sys.version_info > (3,), reason="always on py3")-->
        ```python
        raise SystemExit("must not run")
        ```

        <!--pytest.mark.skipif(sys.version_info < (3,), reason="never")-->
        ```python
        ran = True
        ```

        <!--pytest-codeblocks:importorskip(no_such_module_xyz)-->
        ```python
        import no_such_module_xyz
        ```
    ''')
    page(pytester, "whole.md", '''
        <!--pytest-codeblocks:skipfile-->
        ```python
        raise SystemExit("must not run")
        ```
    ''')
    result = run(pytester, "skips.md", "whole.md", "-rs")
    result.assert_outcomes(passed=1, skipped=4)
    result.stdout.fnmatch_lines_random([
        "*skips.md::L2  skipped: needs a GPU",
        "*skips.md::L7  skipped: always on py3",
        "*skips.md::L17  skipped: module 'no_such_module_xyz' is not installed",
        "*whole.md::L2  skipped: skipfile directive at whole.md:1",
    ])


def test_xfail_checks_the_real_exception_type(pytester):
    page(pytester, "xfail.md", '''
        <!--pytest.mark.xfail(raises=ZeroDivisionError, strict=True)-->
        ```python
        1 / 0
        ```

        ```python
        after = "the session goes on after an expected failure"
        ```

        <!--pytest.mark.xfail(raises=KeyError, strict=True)-->
        ```python
        1 / 0
        ```
    ''')
    page(pytester, "xpass.md", '''
        <!--pytest.mark.xfail(raises=ValueError, strict=True)-->
        ```python
        ok = 1
        ```
    ''')
    result = run(pytester, "xfail.md", "xpass.md")
    result.assert_outcomes(xfailed=1, passed=1, failed=2)
    result.stdout.fnmatch_lines_random([
        "xfail.md:12: ZeroDivisionError: division by zero",
        "xpass.md:2: [[]XPASS(strict)[]] the block was marked xfail but raised nothing",
    ])


def test_a_hanging_block_is_stopped_and_named_while_other_pages_run(pytester):
    page(pytester, "hang.md", '''
        <!--pytest.mark.timeout(1)-->
        ```python
        import time
        while True:
            time.sleep(0.1)
        ```
    ''')
    page(pytester, "fine.md", "```python\nx = 1\n```\n")
    result = run(pytester, "hang.md", "fine.md")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "hang.md:5: the block did not finish within its timeout of 1 s and was "
        "stopped*"])


def test_the_default_timeout_comes_from_the_ini(pytester):
    pytester.makeini("[pytest]\ncodeblocks_timeout = 1\n")
    page(pytester, "hang.md", "```python\nimport time\ntime.sleep(30)\n```\n")
    result = run(pytester, "hang.md")
    result.stdout.fnmatch_lines(["*within its timeout of 1 s*"])


@pytest.mark.parametrize("code, message", [
    ("import os\nos._exit(3)", "crash.md:1: the interpreter exited with code 3 *"),
    ("import ctypes\nctypes.string_at(0)",
     "crash.md:3: the interpreter was killed by signal SIGSEGV *"),
])
def test_a_block_that_kills_its_interpreter_fails_alone(pytester, code, message):
    page(pytester, "crash.md", f"```python\n{code}\n```\n\n```python\nx = 2\n```\n")
    page(pytester, "fine.md", "```python\nx = 1\n```\n")
    result = run(pytester, "crash.md", "fine.md", "-rs")
    result.assert_outcomes(failed=1, skipped=1, passed=1)
    result.stdout.fnmatch_lines([message])


def test_blocks_cannot_write_into_the_repository(pytester):
    page(pytester, "write.md", f'''
        ```python
        open("scratch.txt", "w").write("fine: the working folder is temporary")
        ```

        ```python
        open({str(pytester.path / "notes.txt")!r}, "w")
        ```
    ''')
    result = run(pytester, "write.md")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["write.md:6: PermissionError: code blocks may not write into the repository*"])
    assert not (pytester.path / "notes.txt").exists()


def test_network_beyond_loopback_is_refused_at_once(pytester):
    page(pytester, "net.md", '''
        ```python
        import socket
        server = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(server.getsockname(), timeout=5)
        client.close()
        ```

        ```python
        import urllib.request
        urllib.request.urlopen("http://example.com/data.csv", timeout=60)
        ```
    ''')
    result = run(pytester, "net.md")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*network access is disabled for code blocks: "
                                 "tried to reach example.com:80*"])
    assert result.duration < 50  # refused, not timed out after 60 s


@pytest.mark.parametrize("expected, outcome", [
    ("0.333 and 'text'", "passed"),
    ("0.33333333 and 'text'", "passed"),
    ("0.334 and 'text'", "failed"),
    ("0.333   and\n'text'", "passed"),
    ("0.333 and 'other'", "failed"),
    ("1 and 'text'", "failed"),
])
def test_outputs_match_with_whitespace_and_written_precision(pytester, expected,
                                                             outcome):
    page(pytester, "out.md", "```python\nprint(1 / 3, \"and 'text'\")\n```\n\n"
         "<!--pytest-codeblocks:expected-output-->\n```text\n" + expected + "\n```\n")
    result = run(pytester, "out.md")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "failed":
        result.stdout.fnmatch_lines([
            "out.md:6: the output differs from the expected output of the block at "
            "line 1", "--- actual (this run) ---", "0.3333333333333333 and 'text'"])


UPDATABLE = '''
# Outputs

Prose stays exactly as it is.

```python
print("one")
```

<!--pytest-codeblocks:expected-output-->
```text
stale
```

=== "A"

    ```python
    for i in range(3):
        print("a" * i)
    ```

    <!--pytest-codeblocks:expected-output-->
    ```text
    typed by hand
    ```

=== "B"

    ```python
    print("b")
    ```

    <!--pytest-codeblocks:expected-output-->
    ```text
    ```

Closing prose.
'''


def outside_outputs(text):
    """The page's lines without the contents of its expected-output fences."""
    lines = text.splitlines()
    for block in parse(text, "up.md").blocks:
        if block.output:
            lines[block.output.line:block.output.end - 1] = [None] * (
                block.output.end - 1 - block.output.line)
    return [line for line in lines if line is not None]


def test_update_outputs_round_trip_changes_only_output_fences(pytester):
    path = page(pytester, "up.md", UPDATABLE)
    before = path.read_text()
    run(pytester, "up.md").assert_outcomes(failed=4)  # L5 runs in paths A and B
    run(pytester, "up.md", "--update-outputs").assert_outcomes(passed=4)
    after = path.read_text()
    assert "one\n```" in after
    assert "    ```text\n\n    a\n    aa\n    ```" in after
    assert "    b\n    ```" in after
    assert outside_outputs(after) == outside_outputs(before)
    run(pytester, "up.md").assert_outcomes(passed=4)
    run(pytester, "up.md", "--update-outputs")
    assert path.read_text() == after


def test_update_outputs_publishes_figures_the_page_shows(pytester):
    page(pytester, "fig.md", '''
        ```python
        import matplotlib.pyplot as plt
        plt.plot([1, 2, 3])
        plt.savefig("fig-line.png")
        plt.savefig("fig-unused.png")
        ```

        ![A line](media/fig-line.png)
    ''')
    run(pytester, "fig.md").assert_outcomes(passed=1)
    assert not (pytester.path / "media").exists()
    run(pytester, "fig.md", "--update-outputs").assert_outcomes(passed=1)
    assert (pytester.path / "media" / "fig-line.png").read_bytes()[:4] == b"\x89PNG"
    assert not (pytester.path / "media" / "fig-unused.png").exists()


def test_the_same_figure_is_published_byte_for_byte_the_same(pytester):
    page(pytester, "fig.md", '''
        ```python
        import matplotlib.pyplot as plt
        plt.plot([1, 2, 3])
        plt.savefig("fig-line.svg")
        ```

        ![A line](media/fig-line.svg)
    ''')
    run(pytester, "fig.md", "--update-outputs").assert_outcomes(passed=1)
    first = (pytester.path / "media" / "fig-line.svg").read_bytes()
    run(pytester, "fig.md", "--update-outputs").assert_outcomes(passed=1)
    assert (pytester.path / "media" / "fig-line.svg").read_bytes() == first


def test_plain_pytest_collects_docs_and_readme_and_ends_with_a_summary(pytester):
    page(pytester, "docs/a.md", "```python\nx = 1\n```\n\n```text\nshown\n```\n")
    page(pytester, "docs/sub/b.md", "```python\nprint(2)\n```\n\n"
         "<!--pytest-codeblocks:expected-output-->\n```text\n2\n```\n")
    page(pytester, "README.md", "```bash\nmake test\n```\n")
    page(pytester, "notes.md", "```python\nraise SystemExit('not collected')\n```\n")
    result = run(pytester, "docs", "README.md")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines([
        "docs: 4 blocks on 3 pages (2 paths): 3 passed, 1 outputs checked, "
        "1 skipped, 0 failed",
        "blocks not executed:",
        "  README.md::L1  checked: shell syntax checked with bash -n",
        "  docs/a.md::L5  skipped: a text block is shown to readers, not run",
    ])


def test_selecting_one_block_runs_the_blocks_before_it(pytester):
    page(pytester, "sel.md", "```python\nx = 1\n```\n\n```python\nassert x == 1\n```\n"
         "\n```python\nraise SystemExit('after the selection')\n```\n")
    run(pytester, "sel.md::L5").assert_outcomes(passed=1)


def test_preloaded_modules_are_imported_once_but_the_namespace_is_fresh(pytester):
    """Only preload modules some page of the run imports are preloaded."""
    pytester.makeini("[pytest]\ncodeblocks_preload = colorsys\n    wave\n")
    page(pytester, "pre.md", '''
        ```python
        import sys
        assert "colorsys" in sys.modules, "preloaded by the fork server"
        assert "colorsys" not in globals(), "but not in the page's namespace"
        assert "wave" not in sys.modules, "no page imports it: not preloaded"
        ```

        ```python
        import colorsys
        ```
    ''')
    run(pytester, "pre.md").assert_outcomes(passed=2)


def test_the_run_records_what_it_verified_for_the_page_stamp(pytester):
    page(pytester, "docs/stamp.md", '''
        ```python
        import numpy as np
        ```

        ```python
        x = np.ones(2)
        ```

        ```text
        shown, not run
        ```
    ''')
    run(pytester, "docs/stamp.md").assert_outcomes(passed=2, skipped=1)
    record = results.load(pytester.path)["docs/stamp.md"]
    import numpy

    assert record["versions"]["NumPy"] == numpy.__version__
    assert (record["passed"], record["skipped"], record["total"]) == (2, 1, 3)
    text = (pytester.path / "docs/stamp.md").read_text()
    assert results.verdict(record, text)[0] == "verified"
    record_file = pytester.path / "docs/verified.json"
    record_file.write_text(record_file.read_text().replace(record["date"],
                                                           "2000-01-02"))
    saved = record_file.read_bytes()
    run(pytester, "docs/stamp.md").assert_outcomes(passed=2, skipped=1)
    assert record_file.read_bytes() == saved, (
        "a run that verified the same things leaves the record as it was")
    (pytester.path / "docs/stamp.md").write_text(text + "\n```python\ny = 1\n```\n")
    run(pytester, "docs/stamp.md").assert_outcomes(passed=3, skipped=1)
    assert results.load(pytester.path)["docs/stamp.md"]["date"] != "2000-01-02"


def test_a_stale_or_broken_record_is_an_error_that_says_what_to_do(pytester,
                                                                   monkeypatch):
    page(pytester, "docs/p.md", """
        ```python
        x = 1
        ```
    """)
    pytester.makeini("[pytest]\ncodeblocks_require_record = true\n")
    monkeypatch.setenv("CI", "true")
    result = run(pytester, "docs/p.md")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*docs/p.md:1: it has no record, so docs/verified.json"
                                 " does not verify it. Run 'make test'*"])
    monkeypatch.delenv("CI")
    run(pytester, "docs/p.md").assert_outcomes(passed=1)
    monkeypatch.setenv("CI", "true")
    run(pytester, "docs/p.md").assert_outcomes(passed=1)
    (pytester.path / "docs/p.md").write_text("```python\nx = 2\n```\n")
    result = run(pytester, "docs/p.md")
    result.stdout.fnmatch_lines(["*docs/p.md:1: the page changed after its last test "
                                 "run*"])
    (pytester.path / "docs/verified.json").write_text("{not json")
    result = run(pytester, "docs/p.md")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*docs/verified.json: not valid JSON*"])


def test_code_from_earlier_blocks_stays_inspectable(pytester):
    page(pytester, "src.md", '''
        ```python
        def square(x):
            return x * x
        ```

        ```python
        import inspect
        assert inspect.getsource(square).startswith("def square(x):")
        ```

        The whole function, its last line too, also after a later block ran
        (tf.function's AutoGraph reads the source this way).

        ```python
        assert inspect.getsource(square).rstrip().endswith("return x * x")
        ```
    ''')
    run(pytester, "src.md").assert_outcomes(passed=3)
