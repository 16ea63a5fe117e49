"""Report documents as a list of blocks, rendered to Markdown and to self-contained HTML.

Blocks: :class:`Heading`, :class:`Para` (Markdown-lite text: `code`, **bold**), :class:`Table`,
:class:`Bullets`, :class:`Image` (a PNG path relative to the document). The HTML embeds images as
base64 so a single file can be mailed or archived; it loads nothing from the network.
:func:`table_to_latex` renders one :class:`Table` as a booktabs ``table`` for a paper.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Image:
    path: str  # relative to the document
    caption: str


@dataclass
class Columns:
    """Blocks side by side in HTML (a row that wraps on a narrow window), one after the other in Markdown:
    the report's first screen puts the headline table next to the first figure."""
    parts: list[list]


def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def blocks_to_markdown(blocks: list) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [b.text, ""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(map(_md_cell, b.header)) + " |")
            out.append("|" + "---|" * len(b.header))
            out += ["| " + " | ".join(map(_md_cell, r)) + " |" for r in b.rows]
            out.append("")
        elif isinstance(b, Bullets):
            out += [f"- {item}" for item in b.items] + [""]
        elif isinstance(b, Image):
            out += [f"![{b.caption}]({b.path})", "", f"*{b.caption}*", ""]
        elif isinstance(b, Columns):
            out += blocks_to_markdown([x for part in b.parts for x in part]).rstrip("\n").split("\n") + [""]
        else:  # pragma: no cover - programming error
            raise TypeError(f"unknown block {b!r}")
    return "\n".join(out).rstrip() + "\n"


def _inline(text: str) -> str:
    """Escape, then turn `code` and **bold** into tags."""
    t = html.escape(str(text), quote=False)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.86em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f1f3f5}
tr:nth-child(even) td{background:#fafafa}code{background:#f1f3f5;padding:0 3px;border-radius:3px}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.9em;color:#555}
.cols{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}.cols>div{flex:1 1 480px;min-width:0}
.cols figure{margin-top:0.6em}"""


def _html_blocks(blocks: list, base_dir: Path, embed: bool) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            out.append("<table><thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in b.header) + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in b.rows]
            out.append("</tbody></table>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Image):
            src = b.path
            if embed:
                data = (base_dir / b.path).read_bytes()
                src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            out.append(f"<figure><img src='{src}' alt='{html.escape(b.caption, quote=True)}'>"
                       f"<figcaption>{_inline(b.caption)}</figcaption></figure>")
        elif isinstance(b, Columns):
            out.append("<div class='cols'>")
            for part in b.parts:
                out += ["<div>"] + _html_blocks(part, base_dir, embed) + ["</div>"]
            out.append("</div>")
        else:  # pragma: no cover
            raise TypeError(f"unknown block {b!r}")
    return out


def blocks_to_html(blocks: list, *, base_dir: str | Path, title: str = "rfbench report", embed: bool = True) -> str:
    """Self-contained HTML: images under ``base_dir`` are embedded as base64 (``embed=True``)."""
    base_dir = Path(base_dir)
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{_CSS}</style></head><body>"]
    out += _html_blocks(blocks, base_dir, embed)
    out.append("</body></html>")
    return "\n".join(out)


# -- LaTeX (booktabs) ----------------------------------------------------------------------------------
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
# the few non-ASCII characters rfbench's tables use, spelled so that plain pdflatex needs no package
_LATEX_UNICODE = {"—": "--", "–": "--", "≈": r"$\approx$", "±": r"$\pm$", "×": r"$\times$", "↓": r"$\downarrow$",
                  "↑": r"$\uparrow$", "≤": r"$\leq$", "≥": r"$\geq$"}


def latex_escape(text: object) -> str:
    """Plain text as LaTeX text: the ten special characters escaped, the tables' non-ASCII symbols
    spelled out."""
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    for k, v in _LATEX_UNICODE.items():
        out = out.replace(k, v)
    return out


def _latex_inline(text: object) -> str:
    """Markdown-lite (`code`, **bold**) as LaTeX, the rest escaped."""
    t = latex_escape(text)
    t = re.sub(r"`([^`]+)`", r"\\texttt{\1}", t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"\\textbf{\1}", t)
    return "{}" + t if t.startswith("[") else t  # a cell opening with [ would read as \\'s optional argument


def table_to_latex(table: Table, *, caption: str = "", label: str = "", align: str | None = None) -> str:
    """One booktabs table (``\\usepackage{booktabs}``): ``\\toprule``, header, ``\\midrule``, rows,
    ``\\bottomrule``; cells in Markdown-lite (**bold** becomes ``\\textbf``). ``align``: the column
    spec, default ``l`` then ``r`` for every other column."""
    n = len(table.header)
    align = align or ("l" + "r" * (n - 1))
    for r in table.rows:
        if len(r) != n:
            raise ValueError(f"table row has {len(r)} cells, header has {n}: {r!r}")

    def line(cells) -> str:
        return " & ".join(_latex_inline(c) for c in cells) + r" \\"

    out = [r"\begin{table}[htbp]", r"\centering", r"\small"]
    if caption:
        out.append(r"\caption{" + _latex_inline(caption) + "}")
    if label:
        out.append(r"\label{" + re.sub(r"[^A-Za-z0-9:._-]", "-", label) + "}")
    out += [r"\begin{tabular}{" + align + "}", r"\toprule", line(table.header), r"\midrule"]
    out += [line(r) for r in table.rows]
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"
