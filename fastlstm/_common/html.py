"""HTML pieces every page and notebook repr is built from: escaped text, tables, sections."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    """An HTML table from already-escaped cells (a cell may be (html, class))."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(cell: Any) -> str:
    if isinstance(cell, tuple):
        text, css = cell
        return f'<td class="{css}">{text}</td>'
    return f"<td>{cell}</td>"


def key_values(pairs: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'
