"""The rendered HTML is the oracle for the fence grammar (DESIGN, runner rule 6).

Every page of the hostile corpus (corpus/*/, the grammar's and the directives',
outputs' and isolation pages alike) is rendered with the site's own Markdown setup
(mkdocs.yml's markdown_extensions and their configs), and the code blocks the HTML
shows (language class, code text) must be, as a multiset, exactly the blocks the
runner collected plus the indented code blocks the lexer saw. A page whose
directives the runner refuses is compared on the fences the lexer found shown as
code. Pages in corpus/grammar/bad/ must be refused with a MarkdownError naming the
right line.
"""

import html.parser
from collections import Counter
from pathlib import Path

import pytest
from mdrun.lexer import lex
from mdrun.markdown import MarkdownError, parse
from project import ROOT

CORPUS = Path(__file__).parent / "corpus" / "grammar"
PAGES = sorted(Path(__file__).parent.glob("corpus/*/*.md"))
BAD = dict(line.split() for line in (CORPUS / "bad" / "LINES.txt").read_text()
           .splitlines())


@pytest.fixture(scope="module")
def render():
    markdown = pytest.importorskip("markdown")
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"))

    def convert(text):
        md = markdown.Markdown(extensions=config["markdown_extensions"],
                               extension_configs=config["mdx_configs"])
        return md.convert(text)
    return convert


class CodeBlocks(html.parser.HTMLParser):
    """(language, text) of each <pre><code> in a page, outside HTML comments."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks, self.lang, self.text, self.open = [], "", None, []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and "highlight" in classes:
            self.lang = next((c.removeprefix("language-") for c in classes
                              if c.startswith("language-")), "")
        if tag == "code" and self.open and self.open[-1] == "pre":
            self.text = []
        self.open.append(tag)

    def handle_endtag(self, tag):
        while self.open and self.open.pop() != tag:
            pass
        if tag == "code" and self.text is not None:
            self.blocks.append((self.lang, "".join(self.text)))
            self.text, self.lang = None, ""

    def handle_data(self, data):
        if self.text is not None:
            self.text.append(data)


def shown(html):
    parser = CodeBlocks()
    parser.feed(html)
    return parser.blocks


def normal(text):
    """Code text as compared: no trailing spaces, no blank lines at either end."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def collected(text, name):
    lexed = lex(text, name, ROOT)
    try:
        page = parse(text, name, base=ROOT)
    except MarkdownError:  # a refused directive: the fences are still the oracle's
        out = [(f.lang or "text", normal(f.code)) for f in lexed.fences
               if f.shown == "code"]
    else:
        blocks = page.blocks + [b.output for b in page.blocks if b.output is not None]
        out = [(b.info or "text", normal(b.code)) for b in blocks]
    return out + [("text", normal(i.text)) for i in lexed.indented]


def read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def test_the_corpus_is_big_enough():
    assert len(PAGES) >= 60
    assert len(BAD) >= 5
    assert {p.name for p in (CORPUS / "bad").glob("*.md")} == set(BAD)


@pytest.mark.parametrize("path", PAGES,
                         ids=[f"{p.parent.name}/{p.stem}" for p in PAGES])
def test_the_runner_collects_exactly_what_the_page_shows(path, render, monkeypatch):
    monkeypatch.chdir(ROOT)  # snippets read from the folder of mkdocs.yml
    text = read(path)
    html = [(lang, normal(code)) for lang, code in shown(render(text))]
    assert html, "every corpus page shows at least one code block"
    assert Counter(collected(text, path.name)) == Counter(html)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_pages_are_refused_at_the_right_line(name):
    text = read(CORPUS / "bad" / name)
    with pytest.raises(MarkdownError) as error:
        parse(text, f"bad/{name}", base=ROOT)
    assert error.value.line == int(BAD[name]), str(error.value)
    prefix = f"bad/{name}:{BAD[name]}: "
    assert str(error.value).startswith(prefix)
    message = str(error.value).removeprefix(prefix)
    assert len(message.split()) >= 5 and "None" not in message, (
        f"the error must say what is wrong and what to do: {message!r}")
