"""A self-contained HTML report of one psythemes run.

The page has no external references (no CDN, no web fonts): CSS is inline and every plot
is a static PNG embedded as a data URI, so the file opens offline and can be archived with
the study.  Sections appear only when their tables are given: corpus overview and Table 1
of participant characteristics, candidate themes with quotes (by role and wave), codebook
with code frequencies per role, theme → code map, and — when gold codes were given —
agreement with confidence intervals, a confusion heatmap and the top disagreements.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .discover import parse_quotes
from .outputs import write_text

__all__ = ["ReportData", "table_one", "render_report", "write_report"]


@dataclass
class ReportData:
    """Everything the report may show; each table is optional.

    Attributes
    ----------
    title : str
        Page title.
    segments : DataFrame
        Segment table (``psythemes.schema.SEGMENT_COLUMNS``).
    metadata : DataFrame, optional
        One row per document (``doc_id``, ``participant``, ``role``, ``wave``, ...).
    themes, themes_by_role, themes_by_wave : DataFrame, optional
        Outputs of :mod:`psythemes.discover`.
    codebook : object, optional
        A :class:`psythemes.codebook.Codebook` (anything with ``flat()`` or ``codes``).
    codes : DataFrame, optional
        Machine codes (``CODE_COLUMNS``).
    theme_codes : DataFrame, optional
        Theme → code scores from :mod:`psythemes.mapping`.
    theme_code_shares : DataFrame, optional
        Share of each theme's segments per code, machine and gold
        (:func:`psythemes.theme_quality.theme_code_shares`).
    agreement : DataFrame, optional
        Per-code agreement table from :mod:`psythemes.evaluate`.
    confusion : DataFrame, optional
        Confusion table (machine vs gold).
    disagreements : DataFrame, optional
        Units where machine and gold differ, most important first.
    summary : dict
        Headline figures (agreement summary, outlier share, ...).
    manifest : dict
        Run manifest (versions, options, timings).
    extra_sections : list of (anchor, title, html)
        Sections other modules render (e.g. :func:`psythemes.saturation.saturation_section`),
        shown before the run details.
    """

    title: str = "psythemes report"
    segments: pd.DataFrame | None = None
    metadata: pd.DataFrame | None = None
    themes: pd.DataFrame | None = None
    themes_by_role: pd.DataFrame | None = None
    themes_by_wave: pd.DataFrame | None = None
    codebook: Any = None
    codes: pd.DataFrame | None = None
    theme_codes: pd.DataFrame | None = None
    theme_code_shares: pd.DataFrame | None = None
    agreement: pd.DataFrame | None = None
    confusion: pd.DataFrame | None = None
    disagreements: pd.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    extra_sections: list[tuple[str, str, str]] = field(default_factory=list)


# ----------------------------------------------------------------------------- Table 1


def table_one(
    metadata: pd.DataFrame,
    *,
    role: str | None = "patient",
    participant_column: str = "participant",
    multi_value_separator: str = ";",
    exclude: Iterable[str] = ("doc_id", "participant", "role", "wave", "format", "source"),
) -> pd.DataFrame:
    """Participant characteristics as a study's "Table 1".

    One row per participant (the first document of each); numeric columns give
    ``mean (min–max)``, categorical ones ``n (%)`` per category.  Cells holding several
    values separated by ``multi_value_separator`` (e.g. main symptoms) count each value,
    so their percentages may add up to more than 100.

    Parameters
    ----------
    metadata : DataFrame
        Document metadata with a participant column.
    role : str or None
        Keep only rows of this role (``None`` keeps all).

    Returns
    -------
    DataFrame
        Columns ``characteristic``, ``level``, ``value``; the first row is ``n``.
    """
    frame = metadata.copy()
    if role is not None and "role" in frame:
        frame = frame[frame["role"].astype(str) == role]
    if participant_column in frame:
        frame = frame.drop_duplicates(participant_column, keep="first")
    n = len(frame)
    rows: list[dict[str, Any]] = [{"characteristic": "n", "level": "", "value": str(n)}]
    for column in frame.columns:
        if column in exclude:
            continue
        values = frame[column].dropna()
        values = values[values.astype(str).str.strip() != ""]
        if values.empty:
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all():
            rows.append(
                {
                    "characteristic": column,
                    "level": "mean (range)",
                    "value": f"{_fmt_number(numeric.mean())} ({_fmt_number(numeric.min())}–{_fmt_number(numeric.max())})",
                }
            )
            continue
        exploded = values.astype(str).str.split(multi_value_separator).explode().str.strip()
        exploded = exploded[exploded != ""]
        for level, count in exploded.value_counts().sort_index().items():
            rows.append(
                {"characteristic": column, "level": str(level), "value": f"{count} ({100 * count / n:.0f}%)"}
            )
    return pd.DataFrame(rows, columns=["characteristic", "level", "value"])


def _fmt_number(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


# ----------------------------------------------------------------------------- plots

_PNG_PREFIX = "data:image/png;base64,"


class _FigureCache:
    """Drawn figures (PNG data URIs) of earlier runs, by what they show.

    A re-run with the same tables (e.g. ``extract`` with cached embeddings and themes) draws
    nothing and never imports matplotlib.  The key hashes the drawing function, its arguments
    (tables by content), this module's source and the matplotlib version; entries are written
    atomically and one that is not a valid PNG data URI is drawn again.  ``folder=None``
    draws every time.
    """

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None

    def __call__(self, draw: Any, *args: Any, **kwargs: Any) -> str:
        if self.folder is None:
            return draw(*args, **kwargs)
        path = self.folder / f"{self._key(draw, args, kwargs)}.png.b64"
        try:
            uri = path.read_text(encoding="ascii")
            if uri.startswith(_PNG_PREFIX) and base64.b64decode(uri[len(_PNG_PREFIX):], validate=True)[:4] == b"\x89PNG":
                return uri
        except (OSError, ValueError):
            pass  # absent or damaged: draw it
        uri = draw(*args, **kwargs)
        try:
            write_text(path, uri)
        except OSError:
            pass  # a cache that cannot be written only costs time
        return uri

    @staticmethod
    def _key(draw: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        from .caching import code_version, update_with_table

        digest = hashlib.sha256(f"{code_version(__file__, ('matplotlib',))}|{draw.__name__}".encode())
        for value in [*args, *sorted(kwargs.items())]:
            if isinstance(value, pd.DataFrame):
                update_with_table(digest, value, index=True)
            else:
                digest.update(repr(value).encode())
            digest.update(b"\0")
        return digest.hexdigest()[:40]



def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return _PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def _bar_by_role(counts: pd.DataFrame, title: str, ylabel: str) -> str:
    """Grouped bar chart: rows are categories, columns roles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(counts) + 2), 3.2))
    counts.plot.bar(ax=ax, width=0.8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("")
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _heatmap(matrix: pd.DataFrame, title: str, fmt: str = "{:.0f}", cmap: str = "Blues") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = matrix.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * values.shape[1], 1.0 + 0.6 * values.shape[0]))
    image = ax.imshow(values, cmap=cmap, aspect="auto")
    ax.set_xticks(range(values.shape[1]), [str(c) for c in matrix.columns], rotation=30, ha="right")
    ax.set_yticks(range(values.shape[0]), [str(i) for i in matrix.index])
    finite = values[np.isfinite(values)]
    high = finite.max() if finite.size else 0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if math.isfinite(v):
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                        color="white" if high and v > 0.6 * high else "black")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _png(fig)


# ----------------------------------------------------------------------------- HTML


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2rem auto;
padding:0 1rem;color:#1d2330;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{border-bottom:2px solid #e3e7ef;padding-bottom:.2rem;margin-top:2.2rem}
.muted{color:#5b6475;font-size:.9rem} table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.88rem}
th,td{border:1px solid #d9dee8;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f5f9} td.num{text-align:right;font-variant-numeric:tabular-nums}
blockquote{margin:.3rem 0 .3rem 1rem;padding-left:.7rem;border-left:3px solid #9fb3d9;color:#2b3447}
.cite{color:#5b6475;font-size:.8rem} img{max-width:100%;height:auto}
nav a{margin-right:.8rem} .kpi{display:inline-block;margin:.2rem 1.2rem .2rem 0}
.kpi b{font-size:1.3rem;display:block}
"""


def _esc(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value))


#: Longer texts are shortened on the page (the CSV files keep them whole).
MAX_SHOWN_CHARS = 600


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_SHOWN_CHARS:
        return value[:MAX_SHOWN_CHARS].rstrip() + " …"
    return value


def _table(frame: pd.DataFrame, *, max_rows: int = 200, floats: str = "{:.3f}") -> str:
    if frame is None or frame.empty:
        return "<p class='muted'>(empty)</p>"
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = []
    for rec in frame.head(max_rows).itertuples(index=False):
        cells = []
        for value in rec:
            if isinstance(value, float):
                cells.append(f"<td class='num'>{'' if math.isnan(value) else floats.format(value)}</td>")
            elif isinstance(value, (int,)) and not isinstance(value, bool):
                cells.append(f"<td class='num'>{value}</td>")
            else:
                cells.append(f"<td>{_esc(_shorten(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p class='muted'>{len(frame) - max_rows} more rows in the CSV.</p>" if len(frame) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _img(src: str, alt: str) -> str:
    return f"<img src='{src}' alt='{_esc(alt)}'>"


def _codebook_codes(codebook: Any) -> list[Any]:
    if codebook is None:
        return []
    if hasattr(codebook, "flat"):
        return list(codebook.flat())
    return list(getattr(codebook, "codes", []))


def _role_of_segments(data: ReportData) -> pd.Series:
    segs = data.segments
    return segs.set_index("segment_id")["role"].fillna("").astype(str).replace("", "unknown")


def render_report(data: ReportData, *, figure_cache: str | Path | None = None) -> str:
    """Render the report as one HTML string (self-contained).

    Parameters
    ----------
    data : ReportData
    figure_cache : path, optional
        Folder that keeps drawn plots by what they show, so that a re-run with the same
        tables does not draw them again.  Default: draw every time.

    Returns
    -------
    str
    """
    plot = _FigureCache(figure_cache)
    sections: list[tuple[str, str, str]] = []  # (anchor, title, html)

    # --- overview
    segs = data.segments if data.segments is not None else pd.DataFrame()
    parts = []
    if not segs.empty:
        n_docs = segs["doc_id"].nunique()
        words = int(segs["text"].astype(str).str.split().str.len().sum())
        parts.append(
            f"<div class='kpi'><b>{n_docs}</b>transcripts</div><div class='kpi'><b>{len(segs)}</b>segments</div>"
            f"<div class='kpi'><b>{words:,}</b>words</div>"
        )
        for key in ("outlier_share", "n_themes"):
            if key in data.summary and data.summary[key] is not None:
                value = data.summary[key]
                shown = f"{100 * value:.0f}%" if key == "outlier_share" else str(value)
                parts.append(f"<div class='kpi'><b>{shown}</b>{key.replace('_', ' ')}</div>")
        by = ["role"]
        if data.metadata is not None and "wave" in data.metadata:
            waves = data.metadata.set_index("doc_id")["wave"]
            segs = segs.assign(wave=segs["doc_id"].map(waves))
            by.append("wave")
        overview = (
            segs.assign(words=segs["text"].astype(str).str.split().str.len())
            .groupby([segs[c].fillna("").astype(str) for c in by])
            .agg(transcripts=("doc_id", "nunique"), segments=("segment_id", "size"), words=("words", "sum"))
            .reset_index()
        )
        parts.append(_table(overview))
    if data.metadata is not None and "role" in data.metadata:
        parts.append("<h3>Table 1. Participant characteristics (patients)</h3>")
        t1 = table_one(data.metadata)
        parts.append(_table(t1) if len(t1) > 1 else "<p class='muted'>No patient metadata.</p>")
    sections.append(("overview", "Corpus overview", "".join(parts)))

    # --- themes
    if data.themes is not None and not data.themes.empty:
        parts = [f"<p class='muted'>{len(data.themes)} candidate themes. Quotes are verbatim, "
                 "with document and character offsets.</p>"]
        for rec in data.themes.to_dict("records"):
            parts.append(f"<h3>Theme {_esc(rec.get('theme_id'))}: {_esc(rec.get('label'))}</h3>")
            share = ", ".join(
                f"{k.removeprefix('share_')} {100 * float(v):.0f}%"
                for k, v in rec.items()
                if str(k).startswith("share_") and v is not None and not pd.isna(v)
            )
            parts.append(
                f"<p><b>Keywords:</b> {_esc(rec.get('keywords'))} &nbsp; <b>Size:</b> {_esc(rec.get('size'))}"
                + (f" &nbsp; <b>Share by role:</b> {_esc(share)}" if share else "")
                + "</p>"
            )
            for quote in parse_quotes(rec.get("top_quotes")):
                parts.append(f"<blockquote>{_esc(_shorten(quote.get('text')))} <span class='cite'>"
                             f"{_esc(quote.get('doc_id'))} [{_esc(quote.get('start'))}:{_esc(quote.get('end'))}]"
                             "</span></blockquote>")
        for name, table in (("role", data.themes_by_role), ("wave", data.themes_by_wave)):
            if table is not None and not table.empty:
                parts.append(f"<h3>Theme prevalence by {name}</h3>")
                wide = _wide(table, name)
                if wide is not None and len(wide) <= 40:
                    parts.append(_img(plot(_bar_by_role, wide, f"Segments per theme by {name}", "segments"), f"themes by {name}"))
                parts.append(_table(table))
        sections.append(("themes", "Candidate themes", "".join(parts)))

    # --- codebook and code frequencies
    codes_list = _codebook_codes(data.codebook)
    if codes_list or (data.codes is not None and not data.codes.empty):
        parts = []
        freq = None
        if data.codes is not None and not data.codes.empty and not segs.empty:
            roles = _role_of_segments(data)
            coded = data.codes.assign(role=data.codes["segment_id"].map(roles).fillna("unknown"))
            freq = coded.groupby(["code", "role"]).size().unstack(fill_value=0)
            parts.append(_img(plot(_bar_by_role, freq, "Machine-coded segments per code and role", "segments"),
                              "code frequencies"))
        rows = []
        for code in codes_list:
            row = {"code": code.name, "label": getattr(code, "label", "") or "",
                   "definition": getattr(code, "definition", "") or ""}
            if freq is not None:
                for role in freq.columns:
                    row[f"n_{role}"] = int(freq.loc[code.name, role]) if code.name in freq.index else 0
            rows.append(row)
        if rows:
            parts.append(_table(pd.DataFrame(rows)))
        elif freq is not None:
            parts.append(_table(freq.reset_index()))
        sections.append(("codebook", "Codebook and code frequencies", "".join(parts)))

    # --- theme -> code map
    if data.theme_codes is not None and not data.theme_codes.empty:
        parts = [_table(data.theme_codes)]
        score_cols = [c for c in data.theme_codes.columns if str(c).startswith("score_")]
        if score_cols and "theme_id" in data.theme_codes:
            matrix = data.theme_codes.set_index("theme_id")[score_cols]
            matrix.columns = [c.removeprefix("score_") for c in score_cols]
            parts.insert(0, _img(plot(_heatmap, matrix, "Theme → code scores", fmt="{:.2f}", cmap="Greens"), "theme code map"))
        sections.append(("theme-codes", "Themes mapped to codes", "".join(parts)))

    # --- stable vs unstable themes, themes beside codes (built in psythemes.theme_quality)
    from .theme_quality import report_sections

    sections.extend(report_sections(data.themes, data.theme_code_shares))

    # --- agreement
    if data.agreement is not None:
        parts = []
        headline = {k: v for k, v in data.summary.items() if isinstance(v, (int, float)) and k not in ("outlier_share", "n_themes")}
        if headline:
            parts.append(_table(pd.DataFrame([headline])))
        parts.append(_table(data.agreement))
        if data.confusion is not None and not data.confusion.empty:
            matrix = _numeric_matrix(data.confusion)
            if matrix is not None:
                parts.append(_img(plot(_heatmap, matrix, "Confusion (machine vs gold)"), "confusion heatmap"))
            else:
                parts.append(_table(data.confusion))
        if data.disagreements is not None and not data.disagreements.empty:
            parts.append("<h3>Top disagreements</h3>")
            parts.append(_table(data.disagreements, max_rows=25))
        sections.append(("agreement", "Agreement with gold codes", "".join(parts)))

    sections.extend(data.extra_sections)
    if data.manifest:
        rows = [{"key": k, "value": v if not isinstance(v, (dict, list)) else _compact(v)}
                for k, v in data.manifest.items()]
        sections.append(("run", "Run", _table(pd.DataFrame(rows), max_rows=100)))

    nav = "".join(f"<a href='#{a}'>{_esc(t)}</a>" for a, t, _ in sections)
    body = "".join(f"<section id='{a}'><h2>{_esc(t)}</h2>{h}</section>" for a, t, h in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(data.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_esc(data.title)}</h1><p class='muted'>Machine suggestions for researchers to check, "
        f"not findings.</p><nav>{nav}</nav>{body}</body></html>\n"
    )


def _wide(table: pd.DataFrame, by: str) -> pd.DataFrame | None:
    """Long prevalence table (theme, class, count) → wide counts, when it has that shape."""
    cols = set(table.columns)
    theme_col = "theme_label" if "theme_label" in cols else "label" if "label" in cols else "theme_id" if "theme_id" in cols else None
    count_col = next((c for c in ("count", "n_segments", "size", "Frequency") if c in cols), None)
    class_col = by if by in cols else "Class" if "Class" in cols else None
    if theme_col is None or count_col is None or class_col is None:
        return None
    return table.pivot_table(index=theme_col, columns=class_col, values=count_col, aggfunc="sum", fill_value=0)


def _numeric_matrix(frame: pd.DataFrame) -> pd.DataFrame | None:
    first = frame.columns[0]
    candidate = frame.set_index(first) if not pd.api.types.is_numeric_dtype(frame[first]) else frame
    numeric = candidate.apply(pd.to_numeric, errors="coerce")
    if numeric.isna().all().all() or numeric.shape[0] > 40 or numeric.shape[1] > 40:
        return None
    return numeric


def _compact(value: Any) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) < 400 else text[:400] + "…"


def write_report(path: str | Path, data: ReportData, *, figure_cache: str | Path | None = None) -> Path:
    """Render and write ``report.html`` atomically; returns the path."""
    return write_text(path, render_report(data, figure_cache=figure_cache))
