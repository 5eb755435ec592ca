"""Warm interpreters: a path forks from one that already imported what it uses,
with the Keras backend it chooses, or runs cold and the summary says so."""

import pytest
from mdrun import warm
from runner.pages import run, write_page

PAGE = '''
    ```python
    import os, sys
    import numpy as np
    warm = "keras" in sys.modules  # imported before the page's first line?
    print("KERAS_BACKEND" in os.environ)
    ```

    <!--pytest-codeblocks:expected-output-->
    ```text
    False
    ```

    === "torch"

        ```python
        os.environ["KERAS_BACKEND"] = "torch"
        import keras
        print(warm, keras.backend.backend())
        ```

        <!--pytest-codeblocks:expected-output-->
        ```text
        True torch
        ```

    === "default"

        ```python
        import keras, sqlite3
        print(warm, keras.backend.backend())
        ```

        <!--pytest-codeblocks:expected-output-->
        ```text
        True tensorflow
        ```

    === "computed"

        ```python
        os.environ["KERAS_BACKEND"] = "".join(["tor", "ch"])
        import keras
        print(warm, keras.backend.backend())
        ```

        <!--pytest-codeblocks:expected-output-->
        ```text
        False torch
        ```
'''


def test_each_path_gets_the_keras_backend_it_chooses_warm_or_cold(pytester):
    """Setting torch gets torch, setting nothing the default, both from warm
    interpreters, each with only the modules its own paths import; a computed
    choice runs cold, and the summary says why."""
    pytester.makeini('[pytest]\ncodeblocks_preload = numpy\n    sqlite3\n'
                     '    tensorflow\n    keras\n')
    write_page(pytester, "page.md", PAGE)
    result = run(pytester, "page.md")
    result.assert_outcomes(passed=6)
    lines = result.stdout.lines
    assert "warm interpreters: no Keras: numpy; Keras on tensorflow: numpy, " \
        "sqlite3, tensorflow, keras; Keras on torch: numpy, keras" in lines
    assert "  ran cold: page.md [computed]: line 41: KERAS_BACKEND is set in a way " \
        "only running the code can tell" in lines


@pytest.mark.parametrize(("code", "expected"), [
    ('import os\nos.environ["KERAS_BACKEND"] = "torch"\nimport keras', ("torch", None)),
    ('import os\nos.environ.setdefault("KERAS_BACKEND", "jax")\nimport tensorflow',
     ("jax", None)),
    ("import keras", ("tensorflow", None)),
    ("import numpy\nfrom keras import layers", ("tensorflow", None)),
    ("import numpy as np", (None, None)),
    ("import keras\nimport os\nos.environ['KERAS_BACKEND'] = x", ("tensorflow", None)),
    ('import os\nprint("KERAS_BACKEND" in os.environ, os.getenv("KERAS_BACKEND"))\n'
     'b = os.environ.get("KERAS_BACKEND")\nimport keras', ("tensorflow", None)),
    ('from os import getenv\nb = getenv("KERAS_BACKEND")\nimport keras',
     ("tensorflow", None)),
    ('x = "hello"\nimport keras', ("tensorflow", None)),
    ("x = (", (None, None)),  # no Keras: nothing to choose, parsed or not
])
def test_the_backend_is_read_from_the_code_before_the_first_import(code, expected):
    assert warm.choose([code], environ={}) == expected


def test_the_environment_gives_the_default_and_setdefault_keeps_it(monkeypatch):
    code = 'import os\nos.environ.setdefault("KERAS_BACKEND", "torch")\nimport keras'
    assert warm.choose([code], environ={"KERAS_BACKEND": "jax"}) == ("jax", None)
    assert warm.choose(["import keras"], environ={"KERAS_BACKEND": "jax"}) == (
        "jax", None)
    code = 'import os\nos.environ["KERAS_BACKEND"] = "torch"\nimport keras'
    assert warm.choose([code], environ={"KERAS_BACKEND": "jax"}) == ("torch", None)
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # the process's own, by default
    assert warm.choose(["import keras"]) == ("jax", None)


def test_imports_are_found_in_every_block_by_their_top_level_name():
    assert warm.imported(["x = (", "import os.path", "from keras.layers import Dense",
                          "from . import sibling"]) == {"os", "keras"}
    assert warm.choose(["x = (", "import keras"], environ={}) == (
        None, "a block before its first Keras import does not parse")


@pytest.mark.parametrize(("code", "why"), [
    ('import os\nif True:\n    os.environ["KERAS_BACKEND"] = "torch"\nimport keras',
     "line 2: KERAS_BACKEND is set in a way only running the code can tell"),
    ('import os\nos.putenv("KERAS_BACKEND", "torch")\nimport keras',
     "line 2: KERAS_BACKEND is set in a way only running the code can tell"),
    ('import os\nos.environ.update(KERAS_BACKEND="torch")\nimport keras',
     "line 2: KERAS_BACKEND is set in a way only running the code can tell"),
    ("def build():\n    import keras\n", "line 1: its first import of Keras or "
     "TensorFlow is inside a statement that may run later"),
    ("try:\n    import tensorflow\nexcept ImportError:\n    pass",
     "line 1: its first import of Keras or TensorFlow is inside a statement"),
    ('import os\nos.environ.pop("KERAS_BACKEND", None)\nimport keras',
     "line 2: KERAS_BACKEND is set in a way only running the code can tell"),
    ('import os\nsettings.environ["KERAS_BACKEND"] = "torch"\nimport keras',
     "line 2: KERAS_BACKEND is set in a way only running the code can tell"),
    ('import os\nkey = "KERAS_BACKEND"\nos.environ[key] = "torch"\nimport keras',
     "line 2: KERAS_BACKEND is set in a way only running the code can tell"),
])
def test_a_choice_only_running_can_tell_runs_cold(code, why):
    backend, reason = warm.choose([code], environ={})
    assert backend is None and reason.startswith(why)
