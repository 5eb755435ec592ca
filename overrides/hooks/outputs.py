"""MkDocs hook: show each expected-output fence as output, not as code.

The runner's parse says which fences are outputs (the fence after a block, marked
`<!--pytest-codeblocks:expected-output-->`). Each gets Material's own means: the
classes `output` (styled in docs/stylesheets/extra.css) and `no-copy` (no copy
button), and the title "Output", which Material shows as a label above the block
("Output, measured" for a measured output, whose numbers are the verified run's).
The directive comment itself is dropped, so nothing stands between a block and its
output. The page's Markdown source is not changed; only what the build renders.
"""

import re

from mdrun.markdown import parse

FENCE = re.compile(r"^(?P<fence>[ \t>]*(?:`{3,}|~{3,}))")
OUTPUT_INFO = '{ .text .output .no-copy title="Output" }'
# A measured output's numbers (timings) are this machine's, from the verified run.
MEASURED_INFO = '{ .text .output .measured .no-copy title="Output, measured" }'


def on_page_markdown(markdown, page, config, files):
    if not page.file.src_uri.endswith(".md"):
        return markdown
    parsed = parse(markdown, f"docs/{page.file.src_uri}")
    lines = markdown.split("\n")
    for block in parsed.blocks:
        if block.output is not None:
            index = block.output.line - 1
            fence = FENCE.match(lines[index])["fence"]
            measured = block.output.directive("expected-output").name.endswith(
                "measured-output")
            lines[index] = f"{fence} {MEASURED_INFO if measured else OUTPUT_INFO}"
            for directive in block.output.directives:
                lines[directive.line - 1] = ""
    return "\n".join(lines)
