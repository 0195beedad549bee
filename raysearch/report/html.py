"""One self-contained HTML page: the figures embedded as base64 PNGs, and the trial table."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
img { max-width: 100%; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } tr.best { background: #fff6d5; font-weight: bold; }
.note { color: #a05a00; } .caption { color: #555; font-size: 0.9em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; } dd { margin: 0; }
"""


@dataclass
class Section:
    """A figure (PNG bytes) with its caption, or, where it could not be drawn, the reason."""

    title: str
    png: bytes | None
    caption: str = ""


def _figure(s: Section) -> str:
    head = f"<h2>{escape(s.title)}</h2>"
    if s.png is None:
        return f"{head}<p class='note'>{escape(s.caption)}</p>"
    data = base64.b64encode(s.png).decode("ascii")
    return (f"{head}<img alt='{escape(s.title)}' src='data:image/png;base64,{data}'>"
            f"<p class='caption'>{escape(s.caption)}</p>")


def _table(head: list[str], rows: list[list[str]], best_row: int | None) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for i, row in enumerate(rows):
        out.append("<tr class='best'>" if i == best_row else "<tr>")
        out.extend(f"<td>{escape(c)}</td>" for c in row)
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def render(title: str, summary: dict[str, str], notes: list[str], sections: list[Section],
           table_head: list[str], table_rows: list[list[str]], best_row: int | None) -> str:
    """The whole page as one string."""
    facts = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in summary.items())
    note_list = "".join(f"<li class='note'>{escape(n)}</li>" for n in notes)
    return "\n".join([
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>", f"<dl>{facts}</dl>",
        f"<ul>{note_list}</ul>" if notes else "",
        *(_figure(s) for s in sections),
        "<h2>Trials</h2>", _table(table_head, table_rows, best_row),
        "</body></html>",
    ])
