"""MkDocs hook: typeset formulas as MathML when the site is built.

pymdownx.arithmatex (generic mode) marks `$...$` and `$$...$$` in the pages; this
hook turns each into MathML with latex2mathml, so browsers draw it natively and
screen readers read it, with no script and no request to another host. A formula
that cannot be converted stops the build, naming the page and the formula.
"""

import html
import re

from latex2mathml.converter import convert
from mkdocs.exceptions import PluginError

FORMULA = re.compile(r'<(?P<tag>span|div) class="arithmatex">\s*'
                     r"\\[(\[](?P<tex>.*?)\\[)\]]\s*</(?P=tag)>", re.DOTALL)


def on_page_content(content, page, config, files):
    def typeset(match):
        tex = html.unescape(match["tex"]).strip()
        display = "block" if match["tag"] == "div" else "inline"
        try:
            mathml = convert(tex, display=display)
        except Exception as error:  # noqa: BLE001 - any failure names the formula
            raise PluginError(f"docs/{page.file.src_uri}: cannot typeset the formula "
                              f"{tex!r}: {error}") from None
        if display == "block":  # it scrolls on a narrow screen: reachable by key
            return f'<div class="arithmatex" tabindex="0">{mathml}</div>'
        return f'<span class="arithmatex">{mathml}</span>'

    return FORMULA.sub(typeset, content)
