"""Measured outputs: machine-dependent numbers shown from the run, text still checked.

`<!--pytest-codeblocks:measured-output-->` marks an output whose numbers (timings)
differ from run to run: it matches when the text around the numbers is the same,
and --update-outputs writes the numbers of the run.
"""

import textwrap

from mdrun import outputs

TIMING = '''
    ```python
    import time
    start = time.perf_counter()
    print(f"loop: {time.perf_counter() - start + 3.25:.2f} s")
    print("ratio", 12)
    ```

    <!--pytest-codeblocks:measured-output-->
    ```text
    {shown}
    ```
'''


def page(pytester, shown):
    path = pytester.path / "docs" / "timing.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(TIMING).replace("{shown}", shown))
    return path


def test_a_measured_output_matches_other_numbers_in_the_same_text(pytester):
    page(pytester, "loop: 9.99 s\n    ratio 7")
    pytester.runpytest("-p", "no:cacheprovider", "docs").assert_outcomes(passed=1)


def test_a_measured_output_with_different_text_fails_like_any_mismatch(pytester):
    page(pytester, "vectorised: 9.99 s\n    ratio 7")
    result = pytester.runpytest("-p", "no:cacheprovider", "docs")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the output differs from the expected output*"])


def test_update_writes_the_numbers_of_the_run(pytester):
    path = page(pytester, "loop: 9.99 s\n    ratio 7")
    pytester.runpytest("-p", "no:cacheprovider", "docs", "--update-outputs")
    text = path.read_text()
    assert "loop: 3.2" in text and "ratio 12" in text and "9.99" not in text


def test_masking_keeps_the_words_and_hides_only_numbers():
    assert outputs.matches("took 1.5 s (3x)", "took 0.25 s (12x)", measured=True)
    assert not outputs.matches("took 1.5 s", "took 1.5 ms", measured=True)
    assert not outputs.matches("took 1.5 s", "took 1.5 s, then 2", measured=True)
    assert not outputs.matches("took 1.5 s", "took 0.25 s")  # only when measured
