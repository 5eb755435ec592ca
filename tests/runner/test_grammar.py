"""Corpus pages of the fence grammar run end to end, and reader paths are right."""

from pathlib import Path

import pytest
from mdrun.markdown import MarkdownError, parse
from pages import copy_page, run

CORPUS = Path(__file__).parent / "corpus" / "grammar"


def copy(pytester, name):
    return copy_page(pytester, "grammar", name)


def paths(name):
    page = parse((CORPUS / name).read_text(encoding="utf-8"), name)
    return [(label, [b.line for b in blocks]) for label, blocks in page.reader_paths()]


@pytest.mark.parametrize("name, passed, skipped", [
    ("blockquote.md", 1, 0),
    ("blockquote-nested.md", 1, 0),
    ("directive-in-blockquote.md", 0, 1),
    ("comment-in-admonition-hides.md", 1, 0),
    ("indented-code-swallows-following-fence.md", 1, 0),
    ("tabs-linked-sets.md", 4, 0),
    ("tabs-nested.md", 3, 0),
    ("crlf-page.md", 2, 0),
])
def test_a_corpus_page_runs_end_to_end(pytester, name, passed, skipped):
    result = run(pytester, copy(pytester, name), "-v")
    result.assert_outcomes(passed=passed, skipped=skipped)


def test_blocks_are_named_by_the_line_of_their_fence(pytester):
    result = run(pytester, copy(pytester, "crlf-page.md"), "-v")
    result.stdout.fnmatch_lines(["*crlf-page.md::L3 PASSED*",
                                 "*crlf-page.md::L7 PASSED*"])


def test_linked_tab_sets_are_one_choice():
    assert paths("tabs-linked-sets.md") == [("A", [3, 17]), ("B", [9, 23])]


def test_independent_tab_sets_run_every_combination():
    assert paths("tabs-independent-sets.md") == [
        ("NumPy / Adam", [3, 17]), ("NumPy / SGD", [3, 23]),
        ("PyTorch / Adam", [9, 17]), ("PyTorch / SGD", [9, 23])]


def test_nested_tabs_run_each_inner_choice_once():
    assert paths("tabs-nested.md") == [
        ("Outer A / Inner 1", [5]), ("Outer A / Inner 2", [11]), ("Outer B", [17])]


def test_untabbed_blocks_are_on_every_path():
    assert paths("tabs-one-set.md") == [("A", [1, 7]), ("B", [1, 13])]
    assert paths("plain-fences.md") == [(None, [1, 5, 9])]
    assert parse("No code.\n", "x.md").reader_paths() == []


def test_tab_labels_are_read_as_readers_see_them():
    # `===!` and `===+!` start new sets: three one-tab sets make one path
    assert paths("tabs-markers-and-quoted-labels.md") == [
        ('He said "hi" / It\'s new / Third', [3, 9, 15])]


def test_line_numbers_count_only_newlines():
    page = parse((CORPUS / "line-separators-in-a-string.md").read_text("utf-8"),
                 "p.md")
    assert [b.line for b in page.blocks] == [1, 6]
    assert "\x0c" in page.blocks[0].code and "\u2028" in page.blocks[0].code


def test_a_snippet_is_inlined_and_keeps_the_page_lines():
    root = Path(__file__).resolve().parents[2]
    page = parse((CORPUS / "snippet-included.md").read_text("utf-8"), "s.md",
                 base=root)
    assert page.blocks[0].code.startswith("def square(x):")
    assert (page.blocks[0].line, page.blocks[0].end) == (1, 4)


def test_too_many_paths_is_an_error_not_a_long_run():
    sets = "".join(f'=== "S{n}a"\n\n    ```python\n    x = 1\n    ```\n\n'
                   f'=== "S{n}b"\n\n    ```python\n    x = 2\n    ```\n\nText.\n\n'
                   for n in range(7))
    with pytest.raises(MarkdownError, match="more than 64 reader paths"):
        parse(sets, "many.md").reader_paths()
