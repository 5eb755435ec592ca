"""Numbers compare honestly and updates never lose data.

Each page in corpus/outputs/ is one case, run by pytester; outputs.py's rules are
unit-tested below, each with a case that fails if its guard is removed."""

import os
import shutil
import stat
from pathlib import Path

import pytest
from mdrun.markdown import parse
from mdrun.outputs import OutputError, matches, rewrite

CORPUS = Path(__file__).parent / "corpus" / "outputs"


def copy(pytester, name):
    path = pytester.path / f"{name}.md"
    shutil.copy(CORPUS / f"{name}.md", path)
    return path


def run(pytester, *args):
    return pytester.runpytest("-p", "no:pytest_codeblocks", "-p", "no:cacheprovider",
                              "-rA", *args)


# page -> (outcomes when checked, a line of the report)
CHECKED = {
    "bare-point-matches-exactly": ({"passed": 1}, "*1 outputs checked*"),
    "bare-point-is-not-a-precision": ({"failed": 1}, "[[]1.4 2.  2.6[]]"),
    "negative-zero": ({"failed": 1}, "[[]0. 1.[]]"),
    "shown-precision": ({"passed": 1}, "*1 outputs checked*"),
    "precision-is-half-a-unit": ({"failed": 1}, "0.6666"),
    "float-shown-integer-printed": ({"failed": 1}, "*expected output of the block*"),
    "integer-is-exact": ({"failed": 1}, "1000.0"),
    "version-is-text": ({"failed": 1}, "torch 2.31.0"),
    "exponent-value": ({"passed": 1}, "*1 outputs checked*"),
    "nan-and-inf-are-text": ({"passed": 1}, "*1 outputs checked*"),
    "ignore-whitespace": ({"passed": 1}, "*1 outputs checked*"),
    "cont-output-is-the-chain": ({"passed": 2}, "*1 outputs checked*"),
    "paths-conflict": ({"passed": 3, "failed": 1}, "paths-conflict.md:18: the output "
                       "differs from the expected output of the block at line 13"),
}


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_an_output_page_passes_or_fails_as_its_numbers_say(pytester, name):
    outcomes, line = CHECKED[name]
    copy(pytester, name)
    result = run(pytester, f"{name}.md")
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines([line])


def output_of(path):
    """The text of each expected-output fence of the page at `path`."""
    text = path.read_bytes().decode("utf-8-sig")
    return [b.output.code for b in parse(text, path.name).blocks if b.output]


@pytest.mark.parametrize("name, fence, printed", [
    ("backticks-in-output", "`````", "````python\n~~~"),
    ("tilde-fence-output", "~~~~~", "~~~~ and ```"),
])
def test_an_update_makes_the_fence_longer_than_what_it_holds(pytester, name, fence,
                                                             printed):
    path = copy(pytester, name)
    run(pytester, f"{name}.md", "--update-outputs").assert_outcomes(passed=1)
    text = path.read_text()
    assert f"\n{fence}text\n{printed}\n{fence}\n\nAfter.\n" in text
    assert output_of(path) == [printed]
    run(pytester, f"{name}.md").assert_outcomes(passed=1)


@pytest.mark.parametrize("name, message", [
    # Captured at the file descriptor, a lone surrogate fails in print itself;
    # test_rewrite_refuses_output_it_cannot_write covers rewrite's own guard.
    ("surrogate-output", "surrogate-output.md:2: UnicodeEncodeError: 'utf-8' codec "
                         "can't encode character '\\udce9'*"),
    ("carriage-return-output", "not updated: carriage-return-output.md:6: the "
                               "output holds the line-breaking character '\\r'*"),
    ("stderr-only", "stderr-only.md:8: the block printed nothing on stdout (it wrote "
                    "10 characters to stderr), so an update would erase the expected "
                    "output shown on the page; it was kept.*"),
    ("paths-conflict", "paths-conflict.md:18: conflict: reader paths print different "
                       "output for this one expected output*"),
])
def test_an_update_that_would_lose_data_fails_and_leaves_the_page(pytester, name,
                                                                  message):
    path = copy(pytester, name)
    before = path.read_bytes()
    result = run(pytester, f"{name}.md", "--update-outputs")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([message])
    assert path.read_bytes() == before
    assert [p.name for p in pytester.path.rglob(f"*{name}*")] == [f"{name}.md"]


def test_paths_that_print_the_same_update_their_shared_output_once(pytester):
    path = copy(pytester, "paths-agree")
    run(pytester, "paths-agree.md", "--update-outputs").assert_outcomes(passed=4)
    assert output_of(path) == ["1"]
    run(pytester, "paths-agree.md").assert_outcomes(passed=4)


UPDATE_PAGE = ("# T\n\n```python\nprint({printed!r}, end='')\n```\n\n"
               "<!--pytest-codeblocks:expected-output-->\n```text\nstale\n```\n\nEnd.\n")


@pytest.mark.parametrize("printed", [
    "a\n", "  indented\n\nx  \ty\n", "\n\nleading blank lines\n", "no newline",
    "trailing blank line\n\n", "tab\tand unicode: café ∑\n",
])
def test_an_update_writes_exactly_what_the_run_printed(pytester, printed):
    path = pytester.path / "exact.md"
    path.write_text(UPDATE_PAGE.format(printed=printed))
    run(pytester, "exact.md", "--update-outputs").assert_outcomes(passed=1)
    assert output_of(path) == [printed.removesuffix("\n").replace("\t", " ")]
    assert f"```text\n{printed.removesuffix(chr(10))}\n```" in path.read_text()
    run(pytester, "exact.md").assert_outcomes(passed=1)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b""])
def test_an_update_keeps_line_endings_encoding_and_mode(pytester, newline, bom):
    path = pytester.path / "page.md"
    text = UPDATE_PAGE.format(printed="x\ny\n").replace("\n", newline)
    path.write_bytes(bom + text.encode())
    path.chmod(0o640)
    result = run(pytester, "page.md", "--update-outputs")
    assert result.ret == pytest.ExitCode.OK
    assert path.read_bytes() == bom + text.replace(
        f"stale{newline}", f"x{newline}y{newline}").encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# Unit tests of the comparison.

@pytest.mark.parametrize("expected, actual", [
    ("0.667", "0.6666666"),
    ("0.667", "0.6665"),
    ("0.333 and 'text'", "0.3333333333333333   and\n'text'"),
    ("-0.667", "-0.66666"),
    ("1.50e-03", "0.0015"),
    ("1.5e-3", "0.00154"),
    ("[1. 2. 3.]", "[1. 2. 3.]"),
    ("[1. 2. 3.]", "[1.0 2.0 3.0]"),
    ("1.", "1.e0"),
    ("-0.", "-0.0"),
    ("0.000", "-0.0004"),
    ("-0.000", "0.0004"),
    ("42", "42"),
    ("1e-05", "1e-05"),
    ("1e-05", "1.0e-5"),
    ("1e3", "1000.0"),
    ("1e3", "1e+03"),
    ("torch 2.3.1", "torch 2.3.1"),
    ("nan inf -inf", "nan inf -inf"),
    ("float64", "float64"),
    ("", "\n  \n"),
    ("tensor([0.5000, 1.0000])", "tensor([0.50001, 0.99996])"),
])
def test_outputs_that_match(expected, actual):
    assert matches(expected, actual)


@pytest.mark.parametrize("expected, actual", [
    ("0.667", "0.6676"),
    ("0.667", "0.66649"),
    ("0.334", "0.3333333"),
    ("-0.667", "0.667"),
    ("[1. 2. 3.]", "[1.4 2.  2.6]"),
    ("1.", "1.4"),
    ("1.", "0.9999"),
    ("1.", "1"),
    ("2.0", "2"),
    ("0.5", "5e-1x"),
    ("-0.", "0."),
    ("0.", "-0."),
    ("42", "42.0"),
    ("42", "+42"),
    ("42", "43"),
    ("1e-05", "1.1e-05"),
    ("1e3", "1000"),
    ("torch 2.3.1", "torch 2.31.1"),
    ("torch 2.3", "torch 2.3.1"),
    ("2.3", "2.3.1"),
    ("nan", "1.0"),
    ("float64", "float32"),
    ("a b", "ab"),
    ("0.333 and", "0.333 or"),
    ("1 2", "1 2 3"),
])
def test_outputs_that_do_not_match(expected, actual):
    assert not matches(expected, actual)


def test_ignore_whitespace_removes_all_whitespace_as_pytest_codeblocks_does():
    assert matches("ab", "a b\n", ignore_whitespace=True)
    assert not matches("ab", "a c\n", ignore_whitespace=True)
    assert not matches("ab", "a b\n")


# Unit tests of rewrite: each guard has a case that fails without it.

PAGE = "# T\n\n```python\nprint(1)\n```\n\n<!--pytest-codeblocks:expected-output-->\n{}"


def page_with(tmp_path, output_fence, newline="\n", name="p.md"):
    path = tmp_path / name
    text = PAGE.format(output_fence)
    path.write_bytes(text.replace("\n", newline).encode())
    block = parse(text, name).blocks[0].output
    return path, block


def test_rewrite_replaces_only_the_fence_content(tmp_path):
    path, block = page_with(tmp_path, "```text\nold\nolder\n```\n\nEnd.\n")
    rewrite(path, [(block, "new\n")])
    assert path.read_text() == PAGE.format("```text\nnew\n```\n\nEnd.\n")


def test_rewrite_keeps_mixed_line_endings_as_they_are(tmp_path):
    path = tmp_path / "p.md"
    text = "# T\r\n\n```python\r\nprint(1)\n```\r\n\n<!--pytest-codeblocks:expected-" \
           "output-->\r\n```text\r\nold\n```\n\r\nEnd.\r\n"
    path.write_bytes(text.encode())
    block = parse(text.replace("\r\n", "\n"), "p.md").blocks[0].output
    rewrite(path, [(block, "a\nb\n")])
    assert path.read_bytes() == text.replace("old\n", "a\r\nb\r\n").encode()


def test_rewrite_writes_an_indented_fence_indented(tmp_path):
    path = tmp_path / "p.md"
    text = ('=== "A"\n\n    ```python\n    print(1)\n    ```\n\n'
            "    <!--pytest-codeblocks:expected-output-->\n    ```text\n    ```\n")
    path.write_text(text)
    block = parse(text, "p.md").blocks[0].output
    rewrite(path, [(block, "x\n\n  y\n")])
    assert path.read_text() == text.replace("    ```text\n", "    ```text\n    x\n\n"
                                            "      y\n")


def test_rewrite_grows_both_fence_lines_and_keeps_their_info(tmp_path):
    path, block = page_with(tmp_path, '```text title="out"\nold\n```  \n')
    rewrite(path, [(block, "``````\n")])
    assert path.read_text().endswith('```````text title="out"\n``````\n```````  \n')


@pytest.mark.parametrize("printed", ["lone \udce9 surrogate\n", "cr\rhere\n",
                                     "form\x0cfeed\n", "sep\u2028line\n"])
def test_rewrite_refuses_output_it_cannot_write_and_leaves_the_page(tmp_path,
                                                                    printed):
    path = tmp_path / "p.md"
    text = PAGE.format("```text\nold\n```\n\n```python\nprint(2)\n```\n\n"
                       "<!--pytest-codeblocks:expected-output-->\n```text\nold\n```\n")
    path.write_text(text)
    first, second = (b.output for b in parse(text, "p.md").blocks)
    with pytest.raises(OutputError, match=r"^p\.md:8: .*left as it was"):
        # The good update of the other output must not be written either.
        rewrite(path, [(first, printed), (second, "fine\n")])
    assert path.read_text() == text


def test_rewrite_refuses_a_page_that_changed_since_it_was_collected(tmp_path):
    path, block = page_with(tmp_path, "```text\nold\n```\n")
    collected = path.read_text()
    path.write_text(collected.replace("# T", "# Edited meanwhile"))
    before = path.read_bytes()
    with pytest.raises(OutputError, match="the page changed during the run"):
        rewrite(path, [(block, "new\n")], original=collected)
    assert path.read_bytes() == before


def test_rewrite_accepts_a_crlf_page_as_collected(tmp_path):
    path, block = page_with(tmp_path, "```text\nold\n```\n", newline="\r\n")
    rewrite(path, [(block, "new\n")], original=PAGE.format("```text\nold\n```\n"))
    assert b"\r\nnew\r\n```\r\n" in path.read_bytes()


def test_rewrite_refuses_a_page_that_is_not_utf8(tmp_path):
    path = tmp_path / "p.md"
    path.write_bytes(PAGE.format("```text\nold\n```\n").encode("utf-8") + b"\xff")
    block = parse(PAGE.format("```text\nold\n```\n"), "p.md").blocks[0].output
    with pytest.raises(OutputError, match="the page is not UTF-8"):
        rewrite(path, [(block, "new\n")])


def test_rewrite_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path, block = page_with(tmp_path, "```text\nold\n```\n")
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        rewrite(path, [(block, "new\n")])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.md"]


def test_rewrite_replaces_the_file_rather_than_writing_into_it(tmp_path):
    path, block = page_with(tmp_path, "```text\nold\n```\n")
    link = tmp_path / "hard.md"
    os.link(path, link)  # a reader holding the old file sees it whole
    rewrite(path, [(block, "new\n")])
    assert "old" in link.read_text() and "new" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(link.stat().st_mode)
