"""Exercises' solutions: run in the page's session, and leave no trace in it.

A Python block inside an admonition or details block titled "Solution" runs in a
fork of the page's session, in a copy of its working folder: it sees what the
blocks before it made, and nothing it does reaches the blocks after it.
"""

import pytest
from mdrun.markdown import parse
from runner.pages import run, write_page

PAGE = '''
    # Exercises

    ```python
    import os
    items, x = [1, 2], 1
    with open("data.txt", "w") as out:
        out.write("page")
    ```

    ### 1. Change everything

    {title}

        ```python
        from __future__ import annotations
        import json as solution_module
        x = 2
        items.append(3)
        with open("data.txt", "w") as out:
            out.write("solution")
        with open("new.txt", "w") as out:
            out.write("new")
        os.environ["FROM_SOLUTION"] = "1"
        os.chdir("/")
        print("solved", x, items)
        ```

        <!--pytest-codeblocks:expected-output-->
        ```text
        solved 2 [1, 2, 3]
        ```

    <!--pytest.mark.xfail(raises=NameError, strict=True)-->
    ```python
    def later(a: undefined_name): pass  # passes under the solution's `annotations`
    ```

    <!--pytest.mark.xfail(raises=NameError, strict=True)-->
    ```python
    solution_module
    ```

    ```python
    assert x == 1 and items == [1, 2], (x, items)
    assert open("data.txt").read() == "page" and not os.path.exists("new.txt")
    assert "FROM_SOLUTION" not in os.environ and os.path.exists("data.txt")
    ```
'''


def test_a_solution_changes_nothing_the_blocks_after_it_see(pytester):
    """Names, objects changed in place, files, environment, folder, flags."""
    write_page(pytester, "page.md", PAGE.replace("{title}", '??? success "Solution"'))
    result = run(pytester, "page.md")
    result.assert_outcomes(passed=3, xfailed=2)
    result.stdout.fnmatch_lines(["*1 outputs checked*"])


@pytest.mark.parametrize("title", ['??? note "Hint"', '!!! note "Solutions"'])
def test_any_other_box_shares_the_session_as_every_block_does(pytester, title):
    """The control: the same page fails when the box is not a solution."""
    write_page(pytester, "page.md", PAGE.replace("{title}", title))
    result = run(pytester, "page.md")
    result.assert_outcomes(passed=2, failed=3)


@pytest.mark.parametrize("body", ['raise ValueError("wrong answer")',
                                  "os.abort()", "os._exit(0)"])
def test_a_failing_solution_fails_alone_and_the_page_goes_on(pytester, body):
    write_page(pytester, "page.md", f'''
        ```python
        import os
        x = 1
        ```

        ??? success "Solution"

            ```python
            {body}
            ```

        ```python
        assert x == 1
        ```
        ''')
    result = run(pytester, "page.md")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*page.md::L8*"])
    if "abort" in body:
        result.stdout.fnmatch_lines(["*the solution's process was killed by signal "
                                     "SIGABRT before it finished*"])


def test_a_solution_on_a_reader_path_sees_that_path(pytester):
    write_page(pytester, "page.md", '''
        === "A"

            ```python
            tool = "a"
            ```

        === "B"

            ```python
            tool = "b"
            ```

        ???+ success "Solution"

            ```python
            print(tool.upper())
            tool = "changed"
            ```

        ```python
        assert tool in "ab"
        ```
        ''')
    result = run(pytester, "page.md", "-v")
    result.assert_outcomes(passed=6)


@pytest.mark.parametrize(("title", "solution"), [
    ('??? success "Solution"', True), ('???+ success "solution"', True),
    ('!!! tip "Solution"', True), ('??? success "Solution 1"', False),
    ('??? success', False), ('!!! solution', False)])
def test_which_boxes_hold_a_solution(title, solution):
    text = f'{title}\n\n    ```python\n    x = 1\n    ```\n'
    assert [b.solution for b in parse(text, "page.md").blocks] == [solution]


THREADED = '''
    ```python
    import os, threading, time
    import numpy as np
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
    items, x = [1, 2], 1
    np.random.seed(0)
    ```

    ??? success "Solution"

        ```python
        x, more = 2, np.random.rand(5)
        os.environ["FROM_SOLUTION"] = "1"
        open("new.txt", "w").close()
        {extra}
        ```

    ```python
    assert x == 1 and "more" not in globals() and items == [1, 2]
    assert "FROM_SOLUTION" not in os.environ and not os.path.exists("new.txt")
    assert round(np.random.rand(), 6) == 0.548814, "the random state was put back"
    ```
'''


def test_a_solution_in_a_threaded_session_runs_contained_and_leaves_no_trace(
        pytester):
    """A session with threads is not forked (a fork finds its threads gone): the
    solution runs in a copy of the namespace, with folder, environment and random
    states put back."""
    write_page(pytester, "page.md", THREADED.replace("{extra}", "pass"))
    run(pytester, "page.md").assert_outcomes(passed=3)


def test_a_contained_solution_that_changes_a_value_in_place_fails_naming_it(
        pytester):
    write_page(pytester, "page.md", THREADED.replace("{extra}", "items.append(3)"))
    result = run(pytester, "page.md")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*SolutionLeaks: the solution changed `items` in "
                                 "place, which the blocks after it would see*"])


def test_a_solution_runs_tensorflow_graphs_after_the_page_did(pytester):
    """TensorFlow's runtime threads would be gone in a fork, and a graph would hang."""
    write_page(pytester, "page.md", '''
        ```python
        import tensorflow as tf
        double = tf.function(lambda x: 2 * x)
        print(double(tf.ones(2)).numpy())
        ```

        ??? success "Solution"

            ```python
            triple = tf.function(lambda x: 3 * x)
            print(triple(tf.ones(2)).numpy())
            ```

            <!--pytest-codeblocks:expected-output-->
            ```text
            [3. 3.]
            ```
        ''')
    result = run(pytester, "page.md", "-o", "codeblocks_timeout=120")
    result.assert_outcomes(passed=2)
