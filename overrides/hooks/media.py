"""MkDocs hooks: publish media/ at /media/ (no copy under docs/), and size images.

Every image gets its width and height (PNG and JPEG read by Pillow, SVG from its
root element), so the page does not shift as it loads, and loads lazily: figures
sit far down their pages, so the browser fetches each as the reader nears it and
the page's first screen does not wait for them."""

import base64
import io
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File
from PIL import Image


def on_files(files, config):
    """Add every file in media/ to the build as media/<name>."""
    root = Path(config.config_file_path).resolve().parent
    for path in sorted(p for p in (root / "media").rglob("*") if p.is_file()):
        files.append(
            File(
                path.relative_to(root).as_posix(),
                src_dir=str(root),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files

IMG = re.compile(r"<img\b[^>]*>")
SRC = re.compile(r'\ssrc="([^"]+)"')
SVG_ROOT = re.compile(rb"<svg\b[^>]*>")
SVG_LENGTH = re.compile(rb'\s(width|height)="([\d.]+)(px|pt)?"')
CSS_PIXELS = {b"px": 1.0, b"pt": 4 / 3, None: 1.0}  # CSS: 1pt = 4/3 px


def _svg_size(data):
    """(width, height) in CSS pixels from an SVG's root element, or None."""
    root = SVG_ROOT.search(data[:4096])
    lengths = {name: float(value) * CSS_PIXELS[unit] for name, value, unit in
               SVG_LENGTH.findall(root.group(0))} if root else {}
    if b"width" in lengths and b"height" in lengths:
        return round(lengths[b"width"]), round(lengths[b"height"])
    return None


def _image_size(src, page, files):
    """(width, height) in CSS pixels of a local or inline image, or None."""
    if src.startswith("data:image/") and ";base64," in src:
        data = io.BytesIO(base64.b64decode(src.split(",", 1)[1]))
    else:
        path = src.split("#")[0]  # media/x-dark.svg#only-dark: Material's variants
        url = posixpath.normpath(posixpath.join(posixpath.dirname(page.url), path))
        file = files.get_file_from_path(url.lstrip("./"))
        if file is None or not file.abs_src_path:
            return None
        data = file.abs_src_path
        if data.endswith(".svg"):
            with open(data, "rb") as svg:
                return _svg_size(svg.read())
    try:
        with Image.open(data) as image:
            return image.size
    except Exception:  # noqa: BLE001 - anything Pillow cannot read
        return None


def on_page_content(html, page, config, files):
    """Give every image its width and height, so the page does not jump as it loads.

    Figures come from the runner (media/) without sizes in the Markdown; CSS keeps
    them responsive (max-width: 100%; height: auto) while the browser reserves the
    right box from the start."""

    def sized(match):
        tag = match.group(0)
        if re.search(r"\swidth=", tag) or re.search(r"\sheight=", tag):
            return tag
        src = SRC.search(tag)
        size = src and _image_size(src.group(1), page, files)
        if not size:
            return tag
        end = -2 if tag.endswith("/>") else -1
        return f'{tag[:end].rstrip()} width="{size[0]}" height="{size[1]}"{tag[end:]}'

    def lazy(match):
        tag = match.group(0)
        if re.search(r"\sloading=", tag):
            return tag
        end = -2 if tag.endswith("/>") else -1
        return f'{tag[:end].rstrip()} loading="lazy" decoding="async"{tag[end:]}'

    return IMG.sub(lazy, IMG.sub(sized, html))
