"""MkDocs hooks: publish media/ at /media/ without a copy under docs/."""

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "media"


def on_files(files, config):
    """Add every file in media/ to the build as media/<name>."""
    for path in sorted(p for p in MEDIA.rglob("*") if p.is_file()):
        files.append(
            File(
                path.relative_to(ROOT).as_posix(),
                src_dir=str(ROOT),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files
