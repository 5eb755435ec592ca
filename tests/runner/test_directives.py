"""Directives are strict: each corpus page in corpus/directives/ is one hostile case,
run by pytester, with its exact outcome here. Unit tests of directives.py follow."""

import importlib.util
import shutil
from pathlib import Path

import pytest
from mdrun import directives
from mdrun.directives import DirectiveError, decide, literal, parse_comment

CORPUS = Path(__file__).parent / "corpus" / "directives"


def run_page(pytester, name, *args):
    shutil.copy(CORPUS / f"{name}.md", pytester.path / f"{name}.md")
    return pytester.runpytest("-p", "no:pytest_codeblocks", "-p", "no:cacheprovider",
                              f"{name}.md", "-rA", *args)


# page -> (line, message) of the collection error it must give
COLLECTION_ERRORS = {
    "misspelt-skp": (1, "unknown directive 'pytest.mark.skp'; did you mean "
                        "'pytest.mark.skip'? Write <!--pytest.mark.skip-->"),
    "uppercase-mark": (3, "unknown directive 'PYTEST.MARK.SKIP'; did you mean "
                          "'pytest.mark.skip'?*"),
    "codebloks-typo": (5, "unknown directive 'pytest-codebloks:expected-output'; "
                          "did you mean 'pytest-codeblocks:expected-output'?*"),
    "underscore-prefix": (1, "unknown directive 'pytest_codeblocks:skip'; did you "
                             "mean 'pytest-codeblocks:skip'?*"),
    "prose-mentions-pytest": (1, "unknown directive <!--this page is checked by "
                                 "pytest-->: an HTML comment that mentions pytest or "
                                 "codeblocks must be a directive*"),
    "trailing-text": (1, "nothing may follow a directive on its line; move "
                         "'because it is slow' to a line of its own"),
    "unclosed-directive": (1, "a directive must be one line, closed by --> on its "
                              "line*"),
    "timeout-zero": (1, "pytest.mark.timeout: its seconds must be more than 0 and "
                        "at most 3600 seconds, not 0"),
    "timeout-negative": (1, "pytest.mark.timeout: its seconds must be more than 0 "
                            "and at most 3600 seconds, not -5"),
    "timeout-too-large": (1, "pytest.mark.timeout: its seconds must be more than 0 "
                             "and at most 3600 seconds, not 86400"),
    "timeout-twice": (2, "a second timeout directive for one block "
                         "(pytest.mark.timeout; the first, pytest.mark.timeout, is on "
                         "line 1); keep one"),
    "skip-twice-by-alias": (2, "a second skip directive for one block "
                               "(pytest-codeblocks:skip; the first, pytest.mark.skip, "
                               "is on line 1); keep one"),
    "unknown-keyword": (1, "pytest.mark.skip: unknown keyword argument resaon=; did "
                           "you mean reason=?*"),
    "reason-not-string": (1, "pytest.mark.skip: reason= must be a string in quotes, "
                             "not 42"),
    "strict-not-bool": (1, "pytest.mark.xfail: strict= must be True or False, not "
                           "\"yes\""),
    "xfail-run-false": (1, "pytest.mark.xfail: unknown keyword argument run=*"),
    "raises-undefined": (1, "pytest.mark.xfail: raises=: NoSuchError is not a "
                            "built-in exception; name it with its module*"),
    "raises-no-module": (1, "pytest.mark.xfail: raises=: no module "
                            "'no_such_module_xyz' to take no_such_module_xyz.Error "
                            "from"),
    "raises-call": (1, "raises= must name an exception or a tuple of them*"),
    "cont-first": (1, "pytest-codeblocks:cont must follow a python block, whose "
                      "session this block continues"),
}


@pytest.mark.parametrize("name", sorted(COLLECTION_ERRORS))
def test_a_bad_directive_is_a_collection_error_naming_file_and_line(pytester, name):
    line, message = COLLECTION_ERRORS[name]
    result = run_page(pytester, name)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*ERROR collecting {name}.md*",
                                 f"{name}.md:{line}: {message}"])


# page -> (outcomes, lines the output must hold)
OUTCOMES = {
    "spaced-skip": ({"skipped": 1}, ["*spaced-skip.md::L4  skipped: skip directive "
                                     "at spaced-skip.md:3"]),
    "prose-comment": ({"passed": 1}, []),
    "raises-dotted": ({"xfailed": 1}, ["XFAIL raises-dotted.md::L2 - raised "
                                       "JSONDecodeError as marked",
                                       "*0 failed, 1 xfailed"]),
    "raises-missing-attribute": ({"failed": 1}, [
        "raises-missing-attribute.md:1: DirectiveError: cannot find the exception "
        "in raises=: AttributeError(\"module 'json' has no attribute 'NoSuchError'\")"
    ]),
    "xfail-condition-false": ({"failed": 1}, [
        "xfail-condition-false.md:3: ZeroDivisionError: division by zero"]),
    "xfail-condition-true": ({"xfailed": 1, "passed": 1},
                             ["*1 passed, 0 outputs checked, 0 skipped, 0 failed, "
                              "1 xfailed"]),
    "xpass-counted": ({"xpassed": 1}, ["*0 passed, 0 outputs checked, 0 skipped, "
                                       "0 failed, 1 xpassed"]),
    "skipif-in-session": ({"skipped": 1}, ["*skipif-in-session.md::L2  skipped: "
                                           "decided in the session"]),
    "skipif-string-condition": ({"skipped": 1}, ["*L2  skipped: a string condition"]),
    "skipif-error": ({"passed": 1, "failed": 1, "skipped": 1}, [
        "skipif-error.md:5: DirectiveError: cannot evaluate the skipif condition "
        "'undefined_name': NameError(\"name 'undefined_name' is not defined\")",
        "*skipif-error.md::L10  skipped: an earlier block of this reader session, "
        "skipif-error.md::L6 failed"]),
    "skipif-on-bash": ({"skipped": 1}, ["*skipif-on-bash.md::L2  skipped: not here"]),
    "importorskip-missing": ({"skipped": 1}, [
        "*L2  skipped: module 'no_such_module_xyz' is not installed"]),
    "cont-inherits-skip": ({"skipped": 2}, [
        "*cont-inherits-skip.md::L7  skipped: continues the block at line 2: "
        "needs a GPU"]),
    "pytest-codeblocks-skipfile": ({"skipped": 1}, [
        "*L5  skipped: skipfile directive at pytest-codeblocks-skipfile.md:1"]),
    "pytest-codeblocks-legacy": ({"passed": 2, "skipped": 2, "xfailed": 2}, [
        "*L4  skipped: skip directive at pytest-codeblocks-legacy.md:3",
        "*L9  skipped: condition true: sys.version_info > (3,)",
        "*2 passed, 1 outputs checked, 2 skipped, 0 failed, 2 xfailed"]),
}


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_a_directive_page_ends_as_its_directives_say(pytester, name):
    outcomes, lines = OUTCOMES[name]
    result = run_page(pytester, name)
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines_random(lines)


def test_the_skipif_condition_is_never_evaluated_in_the_pytest_process(pytester,
                                                                         monkeypatch):
    # A HOME named .home exists only in the page's session: here it would run.
    monkeypatch.setenv("HOME", str(pytester.path))
    run_page(pytester, "skipif-in-session").assert_outcomes(skipped=1)


def test_pages_written_for_pytest_codeblocks_run_unchanged(pytester):
    """Every example of pytest-codeblocks 0.18's README keeps its meaning here."""
    result = run_page(pytester, "pytest-codeblocks-readme")
    sympy = importlib.util.find_spec("sympy") is not None
    result.assert_outcomes(passed=6 + sympy, skipped=3 - sympy, xfailed=1)
    result.stdout.fnmatch_lines_random([
        "*readme.md::L13  skipped: skip directive at *readme.md:11",
        "XFAIL *readme.md::L37 - raised ZeroDivisionError as marked",
        "PASSED *readme.md::L51",  # cont: a + 1
        "PASSED *readme.md::L68",  # cont after the commented-out block
        "PASSED *readme.md::L75",  # print(1 + 3) with its expected output 4
        "PASSED *readme.md::L89",  # expected-output-ignore-whitespace
        "*readme.md::L104  skipped: skip directive at *readme.md:102",
        "*2 outputs checked*",
    ])


# Unit tests of the parser and the two evaluators.

@pytest.mark.parametrize("text", [
    "<!-- TODO: add a figure -->", "<!-- markdownlint-disable MD013 -->",
    "Prose that says pytest.mark.skip", "<!---->", "<!-- skip -->", "",
])
def test_comments_that_are_not_directives_are_prose(text):
    assert parse_comment(text, 1) is None


@pytest.mark.parametrize("text, name, args, kwargs", [
    ("<!--pytest.mark.skip-->", "pytest.mark.skip", [], {}),
    ("  <!-- pytest.mark.skip -->  ", "pytest.mark.skip", [], {}),
    ("<!--pytest-codeblocks:cont--->", "pytest-codeblocks:cont", [], {}),
    ('<!--pytest.mark.skipif(a == "(", reason="r")-->', "pytest.mark.skipif",
     ['a == "("'], {"reason": '"r"'}),
    ("<!--pytest.mark.xfail(raises=(KeyError, json.JSONDecodeError))-->",
     "pytest.mark.xfail", [], {"raises": "(KeyError, json.JSONDecodeError)"}),
    ("<!--pytest.mark.timeout(3600)-->", "pytest.mark.timeout", ["3600"], {}),
    ("<!--pytest.mark.timeout(0.5)-->", "pytest.mark.timeout", ["0.5"], {}),
    ("<!--pytest-codeblocks:importorskip(jax.numpy)-->",
     "pytest-codeblocks:importorskip", ["jax.numpy"], {}),
    ('<!--pytest-codeblocks:importorskip("jax")-->',
     "pytest-codeblocks:importorskip", ['"jax"'], {}),
    ('<!--pytest.mark.skip("slow")-->', "pytest.mark.skip", ['"slow"'], {}),
])
def test_directives_parse_into_name_and_argument_sources(text, name, args, kwargs):
    directive = parse_comment(text, 7)
    assert (directive.name, directive.line, directive.args, directive.kwargs) == (
        name, 7, args, kwargs)


@pytest.mark.parametrize("text, message", [
    ("<!--pytest.mark.skp-->", "did you mean 'pytest.mark.skip'?"),
    ("<!--Pytest.Mark.Xfail(strict=True)-->",
     "Write <!--pytest.mark.xfail(strict=True)-->"),
    ("<!--pytset.mark.skip-->", "did you mean 'pytest.mark.skip'?"),
    ("<!--pytest.mark.parametrize-->", "unknown directive"),
    ("<!--pytest-codeblocks:expected-output-ignore-whitespac-->",
     "did you mean 'pytest-codeblocks:expected-output-ignore-whitespace'?"),
    ("<!--pytest.mark.skip reason-->", "unknown directive"),
    ("<!--pytest.mark.skip(reason=)-->", "cannot parse its arguments"),
    ("<!--pytest.mark.skip(*why)-->", "without * or **"),
    ("<!--pytest.mark.skip(**why)-->", "without * or **"),
    ('<!--pytest.mark.skip(reason="a", reason="b")-->', "reason= is given twice"),
    ("<!--pytest.mark.skip(why)-->", "its reason must be a string in quotes"),
    ('<!--pytest.mark.skip("a", "b")-->', "takes at most 1 positional"),
    ("<!--pytest.mark.skipif-->", "takes at least 1 positional"),
    ("<!--pytest.mark.skipif(a b)-->", "cannot parse"),
    ('<!--pytest.mark.skipif("a b")-->', "its condition is not an expression"),
    ("<!--pytest.mark.timeout-->", "takes 1 positional"),
    ("<!--pytest.mark.timeout(1, 2)-->", "takes 1 positional"),
    ("<!--pytest.mark.timeout(600, method='thread')-->", "unknown keyword argument "
     "method=; pytest.mark.timeout takes no keyword arguments"),
    ('<!--pytest.mark.timeout("600")-->', "must be a number of seconds"),
    ("<!--pytest.mark.timeout(ten)-->", "must be a number of seconds"),
    ("<!--pytest.mark.timeout(3600.5)-->", "at most 3600 seconds"),
    ("<!--pytest.mark.timeout(1e999)-->", "at most 3600 seconds"),
    ("<!--pytest-codeblocks:importorskip(1)-->", "must be a module name"),
    ('<!--pytest-codeblocks:importorskip("a b")-->', "must be a module name"),
    ("<!--pytest-codeblocks:importorskip(__import__('os'))-->",
     "must be a literal"),
    ("<!--pytest-codeblocks:cont(1)-->", "pytest-codeblocks:cont takes no arguments"),
    ("<!--pytest-codeblocks:skipfile()-->x", "nothing may follow"),
    ("<!--pytest.mark.xfail(raises=ValueError())-->", "must name an exception"),
    ("<!--pytest.mark.xfail(raises=())-->", "must name an exception"),
    ("<!--pytest.mark.xfail(raises=print)-->", "print is not a built-in exception"),
    ("<!--pytest.mark.xfail(raises=True)-->", "must name an exception"),
    ("<!--pytest.mark.xfail(raises=Warning.mro)-->", "no module 'Warning'"),
])
def test_bad_directives_say_what_to_write(text, message):
    with pytest.raises(DirectiveError, match=None) as error:
        parse_comment(text, 1)
    assert message in str(error.value)


@pytest.mark.parametrize("name", sorted(directives.KNOWN))
def test_every_known_directive_parses_with_arguments_it_takes(name):
    args = {"skipif": "(False)", "timeout": "(5)", "importorskip": "(json)",
            "filterwarnings": '("ignore")'}.get(directives.KNOWN[name], "")
    directive = parse_comment(f"<!--{name}{args}-->", 3)
    assert (directive.name, directive.short) == (name, directives.KNOWN[name])


@pytest.mark.parametrize("text, message", [
    ("<!-- codeblocks are run -->", "unknown directive"),
    ("<!-- pytst notes -->", "unknown directive"),
    ("<!-- codebloks -->", "unknown directive"),
    ("<!--pytest-codeblocks:skipif(a, b)-->", "takes 1 positional"),
    ('<!--pytest.mark.filterwarnings(ignore)-->', "must be a string in quotes"),
])
def test_more_comments_that_must_be_directives(text, message):
    with pytest.raises(DirectiveError) as error:
        parse_comment(text, 1)
    assert message in str(error.value)


def test_directive_values_come_from_literals():
    skip = parse_comment('<!--pytest.mark.skip("slow")-->', 1)
    assert skip.reason == "slow"
    assert parse_comment("<!--pytest.mark.skip-->", 1).reason is None
    assert parse_comment("<!--pytest.mark.timeout(2.5)-->", 1).seconds == 2.5
    xfail = parse_comment('<!--pytest.mark.xfail(strict=True, reason="r")-->', 1)
    assert (xfail.literal("strict"), xfail.literal("run", "no"), xfail.reason) == (
        True, "no", "r")


def test_literal_reads_literals_and_bare_names_but_runs_nothing():
    assert literal(' "a" ') == "a"
    assert literal("600") == 600
    assert literal("-1.5") == -1.5
    assert literal("(3, 7)") == (3, 7)
    assert literal("jax.numpy") == "jax.numpy"
    for source in ("__import__('os').system('true')", "open('x')", "a + b", "1 +"):
        with pytest.raises(DirectiveError, match="must be a literal"):
            literal(source)


def gates_of(*texts):
    return directives.gates([parse_comment(text, n) for n, text in
                             enumerate(texts, 1)])


@pytest.mark.parametrize("texts, verdict", [
    ((), ("run", None)),
    (("<!--pytest.mark.skipif(False, True, reason='r')-->",), ("skip", "r")),
    (("<!--pytest.mark.skipif(1 > 2)-->",), ("run", None)),
    (("<!--pytest.mark.skipif(platform.system() != '', os.sep == '/')-->",),
     ("skip", "condition true: platform.system() != ''")),
    (("<!--pytest.mark.skipif('sys.maxsize > 0')-->",),
     ("skip", "condition true: sys.maxsize > 0")),
    (("<!--pytest-codeblocks:importorskip(json)-->",), ("run", None)),
    (("<!--pytest-codeblocks:importorskip(no_such_module_xyz)-->",),
     ("skip", "module 'no_such_module_xyz' is not installed")),
    (("<!--pytest.mark.xfail-->",), ("xfail", (BaseException,))),
    (("<!--pytest-codeblocks:expect-exception-->",), ("xfail", (BaseException,))),
    (("<!--pytest.mark.xfail(False)-->",), ("run", None)),
    (("<!--pytest.mark.xfail(condition=False)-->",), ("run", None)),
    (("<!--pytest.mark.xfail(False, True, raises=KeyError)-->",),
     ("xfail", (KeyError,))),
    (("<!--pytest.mark.xfail(raises=(KeyError, json.decoder.JSONDecodeError))-->",),
     ("xfail", (KeyError, __import__("json").JSONDecodeError))),
    (("<!--pytest-codeblocks:importorskip(no_such_module_xyz)-->",
      "<!--pytest.mark.skipif(undefined)-->"),
     ("skip", "module 'no_such_module_xyz' is not installed")),
])
def test_decide_weighs_conditions_where_the_code_runs(texts, verdict):
    assert decide(gates_of(*texts)) == verdict


@pytest.mark.parametrize("text, message", [
    ("<!--pytest.mark.skipif(undefined)-->",
     "cannot evaluate the skipif condition 'undefined': NameError"),
    ("<!--pytest.mark.xfail(1 / 0)-->",
     "cannot evaluate the xfail condition '1 / 0': ZeroDivisionError"),
    ("<!--pytest.mark.xfail(raises=json.nope)-->",
     "cannot find the exception in raises=: AttributeError"),
    ("<!--pytest.mark.xfail(raises=json.dumps)-->",
     "cannot find the exception in raises=: TypeError('json.dumps is not an "
     "exception class')"),
    ("<!--pytest.mark.xfail(raises=json.no_such_module.Error)-->",
     "cannot find the exception in raises=: AttributeError"),
])
def test_decide_names_the_directive_line_of_a_condition_that_fails(text, message):
    with pytest.raises(DirectiveError) as error:
        decide(gates_of("<!--pytest.mark.timeout(5)-->", text))
    assert message in str(error.value)
    assert error.value.line == 2


def test_decide_sees_only_sys_os_and_platform():
    with pytest.raises(DirectiveError, match="NameError"):
        decide(gates_of("<!--pytest.mark.skipif(shutil is None)-->"))


def test_aliases_share_their_kind():
    kinds = {name: parse_comment(f"<!--{name}-->", 1).short for name in (
        "pytest-codeblocks:skip", "pytest-codeblocks:expect-error",
        "pytest-codeblocks:expect-exception",
        "pytest-codeblocks:expected-output-ignore-whitespace")}
    assert kinds == {"pytest-codeblocks:skip": "skip",
                     "pytest-codeblocks:expect-error": "xfail",
                     "pytest-codeblocks:expect-exception": "xfail",
                     "pytest-codeblocks:expected-output-ignore-whitespace":
                         "expected-output"}
