"""A self-contained HTML page: pictures, tables and facts, every style and image inline.

The page loads nothing: no script, no font, no stylesheet or image from elsewhere, and its
Content-Security-Policy forbids any (``default-src 'none'``), so it opens the same offline, from
a mail attachment or from a CI artifact. Text is escaped; SVG pictures come from
:mod:`luigi_ufo.pictures.render` and are inlined as they are.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from luigi_ufo.files import write_text_atomically

#: Forbids every fetch: only the page's own inline styles and data: images may be used.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #222; margin: 2rem auto; max-width: 62rem; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
p.subtitle { color: #666; margin-top: 0; }
figure { margin: 0.5rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption, p.note { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }
th, td { text-align: left; padding: 0.2rem 0.7rem 0.2rem 0; vertical-align: top; }
th { border-bottom: 1px solid #bbb; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td code { font-size: 0.8rem; word-break: break-all; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1.2rem; }
dt { color: #555; }
dd { margin: 0; overflow-wrap: anywhere; }
"""


@dataclass(frozen=True)
class Figure:
    """A picture (an ``<svg>`` element) with an optional caption."""

    caption: str
    svg: str


@dataclass(frozen=True)
class Table:
    """A table; cells of ``numeric`` columns are right-aligned, ``code`` columns monospaced."""

    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    numeric: frozenset[int] = frozenset()
    code: frozenset[int] = frozenset()
    id: str = ""


@dataclass(frozen=True)
class Facts:
    """Named values, shown as a definition list."""

    items: Sequence[tuple[str, str]]
    id: str = ""


@dataclass(frozen=True)
class Note:
    """A paragraph of text."""

    text: str


Block = Figure | Table | Facts | Note


@dataclass
class Section:
    """A heading and its blocks."""

    heading: str
    blocks: list[Block] = field(default_factory=list)
    id: str = ""


def html_page(title: str, sections: Sequence[Section], *, subtitle: str = "") -> str:
    """Return the page: ``title``, an optional ``subtitle`` line, then each section."""
    body = [f"<h1>{_e(title)}</h1>"]
    if subtitle:
        body.append(f'<p class="subtitle">{_e(subtitle)}</p>')
    for section in sections:
        attrs = f' id="{_e(section.id)}"' if section.id else ""
        body.append(f"<section{attrs}>\n<h2>{_e(section.heading)}</h2>")
        body += [_block(block) for block in section.blocks]
        body.append("</section>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def write_page(path: str | os.PathLike[str], page: str) -> Path:
    """Write ``page`` to ``path`` atomically (a reader never sees half a page); return it."""
    return write_text_atomically(path, page)


def _block(block: Block) -> str:
    if isinstance(block, Figure):
        caption = f"<figcaption>{_e(block.caption)}</figcaption>" if block.caption else ""
        return f"<figure>\n{block.svg}\n{caption}</figure>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Facts):
        attrs = f' id="{_e(block.id)}"' if block.id else ""
        items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in block.items)
        return f"<dl{attrs}>{items}</dl>"
    return f'<p class="note">{_e(block.text)}</p>'


def _table(table: Table) -> str:
    attrs = f' id="{_e(table.id)}"' if table.id else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in table.header)
    rows = []
    for row in table.rows:
        cells = []
        for i, value in enumerate(row):
            number = isinstance(value, int) and not isinstance(value, bool)
            text = _e(f"{value:,}" if number else str(value))
            if i in table.code:
                cells.append(f"<td><code>{text}</code></td>")
            else:
                cells.append(
                    f'<td class="num">{text}</td>' if i in table.numeric else f"<td>{text}</td>"
                )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<table{attrs}>\n<thead><tr>{head}</tr></thead>\n<tbody>{''.join(rows)}</tbody>\n</table>"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)
