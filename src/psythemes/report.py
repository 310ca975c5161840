"""A self-contained HTML report of one psythemes run, written to be read.

The page has no external references (no CDN, no web fonts): CSS is inline and every plot
is a static PNG embedded as a data URI, so the file opens offline and can be archived with
the study.  The first screen answers "how far can I trust the machine": per code, κ of the
machine against gold beside κ of the coders against each other, with intervals and a forest
plot, and α (MASI) for both.  Then corpus overview and Table 1, candidate themes (shares by
role and wave, quotes collapsible), codebook with code frequencies, theme → code map,
agreement details and the run's options.  Sections are built by the functions in
:data:`SECTIONS` (:func:`add_section` adds one); each returns ``None`` when its data are
missing.  Tables are trimmed on the page and link their full CSV when the report sits beside
the run's files (``ReportData.link_files``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .outputs import write_text
from .tables import theme_quotes

__all__ = ["ReportData", "Section", "SECTIONS", "add_section", "table_one", "render_report", "write_report"]


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
    human_baseline : DataFrame, optional
        Coder-vs-coder agreement per code (:mod:`psythemes.evaluate`), shown beside the machine's.
    segment_themes : DataFrame, optional
        ``segment_id``, ``theme_id`` per segment; with it, shares by wave are also given within
        one role when a role occurs in one wave only (wave and role would be mixed otherwise).
    theme_quotes : DataFrame, optional
        The themes' quotes, one row per quote (``ThemeDiscoverer.quotes_``); without it the
        ``top_quotes`` cells of ``themes`` are read (:func:`psythemes.tables.theme_quotes`).
    summary : dict
        Headline figures (agreement summary, outlier share, ...).
    manifest : dict
        Run manifest (versions, options, timings).
    set_aside : dict
        Segments left out of the analysis by kind (``interviewer``, ``backchannel``), said under
        the corpus overview.
    extra_sections : list of (anchor, title, html)
        Sections other modules render (e.g. :func:`psythemes.saturation.saturation_section`),
        shown before the run details.
    link_files : bool
        The report is written beside the run's files (CSV tables, ``figures/``,
        ``manifest.json``): link them.
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
    human_baseline: pd.DataFrame | None = None
    segment_themes: pd.DataFrame | None = None
    theme_quotes: pd.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    extra_sections: list[tuple[str, str, str]] = field(default_factory=list)
    link_files: bool = False


# ----------------------------------------------------------------------------- Table 1


# Column names of names and notes (Table 1 leaves them out when every value differs)
_FREE_TEXT_COLUMNS = ("name", "note", "comment", "remark", "memo", "pseudonym", "interviewer", "contact", "email",
                      "_by", "by_")


def table_one(
    metadata: pd.DataFrame,
    *,
    role: str | None = "patient",
    participant_column: str = "participant",
    multi_value_separator: str = ";",
    exclude: Iterable[str] = ("doc_id", "participant", "speaker", "role", "wave", "format", "source", "speaker_roles",
                              "qda_guid", "interview_date", "date", "interview_order", "order", "interview_no",
                              "interview_number"),
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
        Keep only rows of this role, ignoring case (``None`` keeps all).

    Returns
    -------
    DataFrame
        Columns ``characteristic``, ``level``, ``value``; the first row is ``n``.  ``exclude``
        (ids, role, wave, interview dates and order) is matched ignoring case, spaces and underscores.  Text columns
        with a different value for every participant (more than three) that hold names or free
        text (a name-like column name, values of three words or more, or ten participants or
        more) are left out, named in ``attrs["left_out"]``.
    """
    from .tables import participants

    frame = participants(metadata).copy()  # a focus group's members with rows of their own: one each
    if role is not None and "role" in frame:
        frame = frame[_of_role(frame, role)]
    if participant_column in frame:
        frame = frame.drop_duplicates(participant_column, keep="first")
    n = len(frame)
    rows: list[dict[str, Any]] = [{"characteristic": "n", "level": "", "value": str(n)}]
    left_out: list[str] = []
    # headers as typed ("Interview date") are matched like the names above
    from .tables import header_key

    excluded = {header_key(c) for c in exclude}
    for column in frame.columns:
        if header_key(column) in excluded:
            continue
        values = frame[column].dropna()
        values = values[values.astype(str).str.strip() != ""]
        # a cell holding a mapping or a list is something the reader stored (a speaker -> role map),
        # not a participant characteristic
        if values.empty or values.map(lambda v: isinstance(v, (dict, list, tuple, set))).any():
            continue
        # percentages are of n, so a characteristic some rows lack says how many
        missing = n - len(values)
        numeric = pd.to_numeric(values, errors="coerce")
        pieces = values.astype(str).str.split(multi_value_separator).explode().str.strip()
        # names or free text: a name-like column (left out however few its rows and however often
        # a name repeats: an interviewer's name), or sentences, or never a repeat among many
        name_like = any(key in str(column).lower() for key in _FREE_TEXT_COLUMNS)
        free_text = name_like or pieces.str.split().str.len().mean() >= 3 or len(values) >= 10
        if numeric.isna().any() and (name_like or (len(values) > 3 and pieces.nunique() == len(pieces)
                                                   and free_text)):
            # a different text for every participant (names, notes) describes no group, and would
            # print each participant's name or note in the report
            left_out.append(str(column))
            continue
        if numeric.notna().all():
            rows.append(
                {
                    "characteristic": column,
                    "level": "mean (range)" + (f", of {len(values)}" if missing else ""),
                    "value": (f"{_fmt_number(numeric.mean())} "
                              f"({_fmt_number(numeric.min())}–{_fmt_number(numeric.max())})"),
                }
            )
        else:
            exploded = pieces[pieces != ""]
            for level, count in exploded.value_counts().sort_index().items():
                share = _half_up(100 * count / n, 0)
                rows.append({"characteristic": column, "level": str(level), "value": f"{count} ({share}%)"})
        if missing:
            rows.append({"characteristic": column, "level": "not given",
                         "value": f"{missing} ({_half_up(100 * missing / n, 0)}%)"})
    table = pd.DataFrame(rows, columns=["characteristic", "level", "value"])
    table.attrs["left_out"] = left_out
    return table


def _fmt_number(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else _half_up(x, 1)


def _half_up(x: float, digits: int) -> str:
    """``x`` rounded half away from zero, as tables in papers round (12.5 % -> 13 %; Python's
    format rounds half to even: 12)."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


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
            if (uri.startswith(_PNG_PREFIX)
                    and base64.b64decode(uri[len(_PNG_PREFIX):], validate=True)[:4] == b"\x89PNG"):
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


# ----------------------------------------------------------------------------- forest plot


def _forest(rows: pd.DataFrame, title: str) -> str:
    """Per code: machine-vs-gold kappa and coder-vs-coder kappa with their intervals.

    ``rows`` has ``code`` and, for ``machine`` and ``human``, ``<who>``, ``<who>_low``,
    ``<who>_high`` columns (NaN where unknown).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = len(rows)
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * n + 1.3))
    y = np.arange(n)[::-1]
    for who, offset, color, label in (("machine", 0.13, "#c0392b", "machine vs gold"),
                                      ("human", -0.13, "#2c6fbb", "coder vs coder")):
        values = rows[who].to_numpy(dtype=float)
        low = rows[f"{who}_low"].to_numpy(dtype=float)
        high = rows[f"{who}_high"].to_numpy(dtype=float)
        has = np.isfinite(values)
        if not has.any():
            continue
        err = np.vstack([np.where(np.isfinite(low), values - low, 0), np.where(np.isfinite(high), high - values, 0)])
        ax.errorbar(values[has], y[has] + offset, xerr=err[:, has], fmt="o", color=color, capsize=3,
                    markersize=5, label=label)
    ax.set_yticks(y, [str(c) for c in rows["code"]])
    ax.axvline(0, color="#999", linewidth=0.8)
    ax.set_xlim(min(-0.1, float(np.nanmin(rows[["machine_low", "human_low", "machine", "human"]].to_numpy(
        dtype=float), initial=0)) - 0.05), 1.0)
    ax.set_xlabel("Cohen's kappa (95% CI)")
    ax.set_title(title, fontsize=10, pad=22)
    ax.legend(fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


# ----------------------------------------------------------------------------- HTML


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:1.5rem auto;
padding:0 1rem;color:#1d2330;line-height:1.45;overflow-wrap:break-word}
h1{font-size:1.6rem;margin:0 0 .2rem} h2{border-bottom:2px solid #e3e7ef;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin:1.2rem 0 .4rem}
.muted{color:#5b6475;font-size:.9rem} .note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4rem .7rem}
.scroll{overflow-x:auto;max-width:100%} table{border-collapse:collapse;margin:.5rem 0 .8rem;font-size:.88rem}
th,td{border:1px solid #d9dee8;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f5f9} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
blockquote{margin:.4rem 0 .4rem .5rem;padding-left:.7rem;border-left:3px solid #9fb3d9;color:#2b3447;max-width:48rem}
.cite{color:#5b6475;font-size:.8rem;white-space:nowrap} img{max-width:100%;height:auto}
nav ol{margin:.3rem 0;padding-left:1.4rem;columns:2 14rem} details{margin:.3rem 0}
summary{cursor:pointer} .kpis{display:flex;flex-wrap:wrap;gap:.4rem 1.4rem;margin:.6rem 0}
.kpi b{font-size:1.35rem;display:block} .kpi{min-width:7rem}
.ci{white-space:nowrap} .trust{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start} .trust>div{flex:1 1 22rem;min-width:0}
"""  # noqa: E501 (CSS text: wrapping would change report.html)


def _esc(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value))


#: Longer texts are shortened on the page (the CSV files keep them whole).
MAX_SHOWN_CHARS = 600


def _shorten(value: Any, limit: int = MAX_SHOWN_CHARS) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit].rstrip() + " …"
    return value


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_number(value: Any, digits: int = 2) -> str:
    """A count as ``1,273``, any other number with ``digits`` decimals; missing as empty."""
    if _is_missing(value):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 10):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return fmt_number(number, digits)


def fmt_share(value: Any) -> str:
    """A share 0..1 as a percentage (``38%``; below 1%: ``0.4%``)."""
    if _is_missing(value):
        return ""
    value = float(value)
    return f"{100 * value:.1f}%" if 0 < value < 0.01 else f"{100 * value:.0f}%"


def _ci(value: Any, low: Any, high: Any) -> str:
    if _is_missing(value):
        return "–"
    text = f"{float(value):.2f}"
    if not _is_missing(low) and not _is_missing(high):
        text += f" <span class='muted ci'>[{float(low):.2f}, {float(high):.2f}]</span>"
    return text


def _table(frame: pd.DataFrame | None, *, max_rows: int | None = 200, digits: int = 2, csv: str | None = None,
           raw_html: Iterable[str] = (), as_text: bool = False) -> str:
    """An HTML table in a horizontally scrollable box; numbers formatted, long text shortened.

    ``csv``: the full table's file name, linked below the table (when rows or columns were left
    out, or always when given).  Columns in ``raw_html`` hold ready HTML (already escaped).
    ``as_text``: every cell as its text, unformatted and whole (tables whose cells are already
    worded, e.g. :func:`psythemes.theme_quality.quality_sections`).  ``max_rows=None``: all rows.
    """
    if frame is None or frame.empty:
        return "<p class='muted'>(empty)</p>"
    raw = set(raw_html)
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = []
    for rec in (frame if max_rows is None else frame.head(max_rows)).itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, rec, strict=True):
            if column in raw:
                cells.append(f"<td>{value}</td>")
            elif as_text:
                cells.append(f"<td>{'' if pd.api.types.is_scalar(value) and pd.isna(value) else _esc(value)}</td>")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f"<td class='num'>{fmt_number(value, digits)}</td>")
            else:
                cells.append(f"<td>{_esc(_shorten(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = []
    if max_rows is not None and len(frame) > max_rows:
        notes.append(f"{len(frame) - max_rows:,} more rows")
    if csv:
        notes.append(f"full table: <a href='{_esc(csv)}'>{_esc(csv)}</a>")
    note = f"<p class='muted'>{'; '.join(notes)}.</p>" if notes else ""
    return (f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
            f"{note}")


def _img(src: str, alt: str) -> str:
    return f"<img src='{src}' alt='{_esc(alt)}'>"


def _codebook_codes(codebook: Any) -> list[Any]:
    if codebook is None:
        return []
    if hasattr(codebook, "flat"):
        return list(codebook.flat())
    return list(getattr(codebook, "codes", []))


def _role_of_segments(data: ReportData, segment_ids: pd.Series) -> pd.Series:
    """segment_id -> role ("unknown" where none) of the segments among ``segment_ids`` (the coded
    ones: a lookup over a million segments would index every segment id)."""
    segs = data.segments
    assert segs is not None, "the report reads segments.csv first"
    segs = segs.loc[segs["segment_id"].isin(segment_ids).to_numpy(), ["segment_id", "role"]]
    return segs.set_index("segment_id")["role"].fillna("").astype(str).replace("", "unknown")


@dataclass(frozen=True)
class Section:
    """One section of the report: its anchor (for the table of contents), title and HTML."""

    anchor: str
    title: str
    html: str


class _Context:
    """What section builders share: the data, the figure cache and CSV links."""

    def __init__(self, data: ReportData, plot: _FigureCache):
        self.data = data
        self.plot = plot

    def csv(self, name: str) -> str | None:
        """``name`` to link when the report sits beside the run's CSV files, else None."""
        return name if self.data.link_files else None


#: A section builder: returns a :class:`Section` (or a list of them), or None when it has nothing to show.
SectionBuilder = Callable[[ReportData, "_Context"], "Section | list[Section] | None"]


def _trust_section(data: ReportData, ctx: _Context) -> Section | None:
    """The first screen: how far the machine can be trusted, beside how far coders agree."""
    segs = data.segments if data.segments is not None else pd.DataFrame()
    kpis = []
    if not segs.empty:
        kpis += [(fmt_number(segs["doc_id"].nunique()), "transcripts"), (fmt_number(len(segs)), "segments")]
    if data.summary.get("n_themes") is not None:
        kpis.append((fmt_number(int(data.summary["n_themes"])), "candidate themes"))
    if data.summary.get("outlier_share") is not None:
        kpis.append((fmt_share(data.summary["outlier_share"]), "segments in no theme (outliers)"))
    s = data.summary
    if s.get("alpha_masi") is not None:
        kpis.append((_ci(s["alpha_masi"], s.get("alpha_masi_ci_low"), s.get("alpha_masi_ci_high")),
                     "α (MASI), machine vs gold"))
    if s.get("human_alpha_masi") is not None:
        kpis.append((_ci(s["human_alpha_masi"], s.get("human_alpha_masi_ci_low"), s.get("human_alpha_masi_ci_high")),
                     "α (MASI), coder vs coder"))
    parts = ["<div class='kpis'>" + "".join(f"<div class='kpi'><b>{v}</b>{_esc(k)}</div>" for v, k in kpis)
             + "</div>"] if kpis else []
    rows = _trust_rows(data)
    if rows is None:
        parts.append("<p class='note'>No human (gold) codes were given, so this run cannot say how far its codes "
                     "can be trusted. Give <code>--gold</code> with codes of at least part of the transcripts.</p>")
        return Section("trust", "How far can I trust the machine?", "".join(parts))
    has_human = rows["human"].notna().any()
    coders = [str(c) for c in s.get("coders") or []]
    reference = {"majority": "the majority of the coders who coded the document",
                 "union": "every code any coder gave", "intersection": "the codes every coder gave",
                 }.get(str(s.get("consensus")), "the human codes")
    named = ", ".join(coders[:-1]) + f" and {coders[-1]}" if len(coders) > 1 else ""
    humans = (f"Cohen's κ of the two coders ({named}) against each other on the units both coded"
              if len(coders) == 2 else
              f"Fleiss' κ of the {len(coders)} coders ({named}) on the units two or more of them coded"
              if coders else "κ of the human coders against each other on the units two or more of them coded")
    intervals = [(lo, hi) for lo, hi in zip(rows["machine_low"], rows["machine_high"], strict=True)]
    intervals += [(lo, hi) for lo, hi in zip(rows["human_low"], rows["human_high"], strict=True)] if has_human else []
    one_value = any(lo == hi for lo, hi in intervals if lo == lo and hi == hi)  # lo == lo: not NaN
    parts.append(
        f"<p>Per code, Cohen's κ of the machine against the human reference ({_esc(reference)}), "
        + (f"beside {_esc(humans)}, " if has_human else "")
        + "with 95% bootstrap intervals over segments. Where the machine's κ lies well below the coders', treat "
        "its codes as suggestions to check, not as codes."
        + (" An interval of one value (such as [1.00, 1.00]) comes from a code too rare, or agreed on too "
           "uniformly, in this sample for resampling to move it: it is no sign of certainty." if one_value else "")
        + "</p>")
    table = pd.DataFrame({
        "code": rows["code"],
        "κ machine vs gold": [_ci(v, lo, hi) for v, lo, hi in zip(rows["machine"], rows["machine_low"],
                                                                   rows["machine_high"], strict=True)],
        **({"κ coder vs coder": [_ci(v, lo, hi) for v, lo, hi in zip(rows["human"], rows["human_low"],
                                                                      rows["human_high"], strict=True)]}
           if has_human else {}),
        "prevalence": [fmt_share(v) for v in rows["prevalence"]],
        "F1": [fmt_number(v) for v in rows["f1"]],
    })
    figure = ctx.plot(_forest, rows, "Agreement per code")
    parts.append("<div class='trust'><div>" + _table(table, raw_html=[c for c in table.columns if c.startswith("κ")])
                 + "</div><div>" + _img(figure, "forest plot of kappa per code, machine and coders") + "</div></div>")
    return Section("trust", "How far can I trust the machine?", "".join(parts))


def _trust_rows(data: ReportData) -> pd.DataFrame | None:
    """code, prevalence, f1, machine(_low/_high), human(_low/_high) from the agreement tables."""
    agreement = data.agreement
    if agreement is None or agreement.empty or "kappa" not in agreement:
        return None

    def col(frame: pd.DataFrame, name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series([float("nan")] * len(frame), index=frame.index)

    rows = pd.DataFrame({"code": agreement["code"].astype(str), "prevalence": col(agreement, "prevalence"),
                         "f1": col(agreement, "f1"), "machine": col(agreement, "kappa"),
                         "machine_low": col(agreement, "kappa_ci_low"),
                         "machine_high": col(agreement, "kappa_ci_high")})
    human = data.human_baseline
    if human is not None and not human.empty and "kappa" in human:
        if "comparison" in human:
            human = human[human["comparison"].astype(str) == "human-human"]
        by_code = human.drop_duplicates("code").set_index(human["code"].astype(str).drop_duplicates())
        for key, name in (("human", "kappa"), ("human_low", "kappa_ci_low"), ("human_high", "kappa_ci_high")):
            rows[key] = rows["code"].map(col(by_code, name)).astype(float)
    else:
        rows["human"] = col(agreement, "human_kappa").astype(float)
        rows["human_low"] = rows["human_high"] = float("nan")
    return rows.reset_index(drop=True)


#: Texts split into words at a time (see :func:`word_counts`).
WORD_COUNT_CHUNK = 50_000


def word_counts(texts: pd.Series) -> pd.Series:
    """Words (whitespace-separated, as ``str.split()``) in each text; NaN where there is no text.

    One text is split at a time and its words dropped at once: ``Series.str.split()`` holds every
    word of the texts as a string (50,000 texts at a time: about 100 MB)."""
    counts = []
    for i in range(0, len(texts), WORD_COUNT_CHUNK):
        chunk = texts.iloc[i:i + WORD_COUNT_CHUNK].astype(str)
        counts.append(pd.Series([len(t.split()) if isinstance(t, str) else np.nan for t in chunk],
                                index=chunk.index))
    return pd.concat(counts) if counts else pd.Series([], index=texts.index, dtype="int64")


def _overview_section(data: ReportData, ctx: _Context) -> Section | None:
    segs = data.segments if data.segments is not None else pd.DataFrame()
    parts = []
    if not segs.empty:
        by = ["role"]
        if data.metadata is not None and "wave" in data.metadata:
            waves = data.metadata.drop_duplicates("doc_id").set_index("doc_id")["wave"]
            segs = segs.assign(wave=segs["doc_id"].map(waves))
            by.append("wave")
        overview = (
            segs.assign(words=word_counts(segs["text"]))
            .groupby([segs[c].fillna("").astype(str) for c in by])
            .agg(transcripts=("doc_id", "nunique"), segments=("segment_id", "size"), words=("words", "sum"))
            .reset_index()
        )
        parts.append(_table(overview, csv=ctx.csv("segments.csv")))
        if data.set_aside:
            from .segment import SET_ASIDE_WORDS

            aside = ", ".join(f"{n:,} {SET_ASIDE_WORDS.get(kind, kind)}" for kind, n in data.set_aside.items())
            where = ("<a href='segments_dropped.csv'>segments_dropped.csv</a>" if ctx.csv("segments_dropped.csv")
                     else "segments_dropped.csv")
            parts.append(f"<p class='muted'>Left out of themes and codes: {_esc(aside)} ({where}).</p>")
    if data.metadata is not None and not data.metadata.empty:
        from .tables import participants

        # the members of a focus group with rows of their own in the metadata are participants
        # each; a document without speaker rows is one participant
        people = participants(data.metadata)
        roles = _participant_roles(people)
        for k, role in enumerate(roles):
            number = f"1{'abcdefghijklmnopqrstuvwxyz'[k]}" if len(roles) > 1 and k < 26 else "1"
            parts.extend(_table_one_parts(people, segs, role, number))
    return Section("overview", "Corpus overview", "".join(parts)) if parts else None


def _of_role(metadata: pd.DataFrame, role: str) -> pd.Series:
    """Rows of ``metadata`` whose role is ``role``, case and surrounding spaces ignored ("Patient" is
    "patient")."""
    return metadata["role"].astype(str).str.strip().str.casefold() == role.strip().casefold()


def _participant_roles(metadata: pd.DataFrame) -> list[str | None]:
    """The roles Table 1 describes, one table each: every role of the metadata but the
    interviewer's (``Interviewer``, ``Moderator``, ... as :func:`psythemes.io.role_of` reads them),
    as first written (``Patient`` and ``patient`` are one); ``[None]`` (everyone) without a role
    column."""
    if "role" not in metadata:
        return [None]
    from .io import role_of

    seen: dict[str, str] = {}
    for value in metadata["role"].dropna().astype(str).str.strip():
        # "Moderator", "Facilitator", "Researcher": the interviewer's side, as speaker labels are
        if value and role_of(value) != "interviewer":
            seen.setdefault(value.casefold(), value)
    return list(seen.values()) or [None]


def _table_one_parts(metadata: pd.DataFrame, segs: pd.DataFrame, role: str | None, number: str) -> list[str]:
    """Heading, notes and table of one Table 1 (participants of ``role``; all with None)."""
    who = f" ({role})" if role else ""
    parts = [f"<h3>Table {number}. Participant characteristics{_esc(who)}</h3>"]
    t1 = table_one(metadata, role=role)
    n = int(t1["value"].iloc[0])
    groups = _group_documents(segs, metadata, role) if role else {}
    if groups:
        n_speakers = sum(groups.values())
        parts.append(f"<p class='muted'>n counts the metadata's rows (one per participant); "
                     f"{len(groups)} document(s) hold several participants' turns ({_esc(', '.join(groups))}: "
                     f"{n_speakers} speakers in all), and each counts once, with what its one row says.</p>")
    if t1.attrs.get("left_out"):
        parts.append(f"<p class='muted'>Not in Table 1: {_esc(', '.join(t1.attrs['left_out']))} (a different "
                     "text for every participant: names or free text, which describe no group).</p>")
    if len(t1) > 1:
        parts.append(_table(t1))
    else:
        parts.append(f"<p class='muted'>{n} participant(s){_esc(who)}; the metadata has no characteristics to "
                     "describe them (such as age or gender) beyond participant, role and wave.</p>")
    return parts


    return Section("overview", "Corpus overview", "".join(parts)) if parts else None


def _group_documents(segments: pd.DataFrame, metadata: pd.DataFrame, role: str = "patient") -> dict[str, int]:
    """Documents of ``role`` with turns of several speakers other than the interviewer (focus
    groups), and how many: Table 1 describes each by the metadata's one row."""
    if segments.empty or not {"doc_id", "speaker"} <= set(segments.columns):
        return {}
    if "doc_id" not in metadata:
        return {}
    of_role = metadata[_of_role(metadata, role)]
    if "speaker" in of_role:  # a document whose speakers have rows of their own is described by them
        of_role = of_role[of_role["speaker"].isna()]
    docs = set(of_role["doc_id"].astype(str))
    said = segments[segments["doc_id"].astype(str).isin(docs)]
    if "role" in said:
        said = said[said["role"].fillna("").astype(str) != "interviewer"]
    counts = said.groupby(said["doc_id"].astype(str))["speaker"].nunique()
    return {str(doc): int(n) for doc, n in counts.items() if n > 1}


def _shares(table: pd.DataFrame | None, by: str) -> dict[Any, str]:
    """theme_id -> "patient 15% · therapist 2%" (share of that group's segments in the theme)."""
    if table is None or table.empty or "theme_id" not in table or by not in table:
        return {}
    column = f"share_of_{by}" if f"share_of_{by}" in table else None
    if column is None:
        return {}
    out: dict[Any, str] = {}
    prefix = "wave " if by == "wave" else ""
    for theme_id, group in table.groupby("theme_id", sort=False):
        out[theme_id] = " · ".join(f"{prefix}{_esc(k)} {fmt_share(v)}"
                                   for k, v in zip(group[by], group[column], strict=True))
    return out


def _one_wave_roles(data: ReportData) -> list[str]:
    """Roles whose documents all lie in one wave while the study has several."""
    meta = data.metadata
    if meta is None or "wave" not in meta or "role" not in meta:
        return []
    meta = meta.dropna(subset=["wave"])
    if meta["wave"].nunique() < 2:
        return []
    waves = meta.groupby(meta["role"].astype(str))["wave"].nunique()
    return [str(role) for role, n in waves.items() if n == 1]


def _wave_shares_within_role(data: ReportData, exclude: list[str]) -> tuple[str, dict[Any, str]] | None:
    """Shares by wave within the largest role that occurs in several waves: theme_id -> text."""
    st, segs, meta = data.segment_themes, data.segments, data.metadata
    if st is None or segs is None or meta is None or not {"segment_id", "theme_id"} <= set(st.columns):
        return None
    waves = meta.drop_duplicates("doc_id").set_index("doc_id")["wave"]
    frame = segs[["segment_id", "doc_id", "role"]].assign(
        role=segs["role"].fillna("").astype(str), wave=segs["doc_id"].map(waves))
    frame = frame.dropna(subset=["wave"])
    frame = frame.merge(st[["segment_id", "theme_id"]], on="segment_id", how="left")
    spread = frame.groupby("role")["wave"].nunique()
    roles = [r for r in frame["role"].value_counts().index if r not in exclude and spread.get(r, 0) > 1]
    if not roles:
        return None
    role = roles[0]
    sub = frame[frame["role"] == role]
    totals = sub.groupby("wave").size()
    counts = sub.groupby(["theme_id", "wave"]).size()
    out: dict[Any, str] = {}
    for theme_id in frame["theme_id"].dropna().unique():  # also themes this role never speaks in: 0%
        out[theme_id] = " · ".join(
            f"wave {_esc(w)} {fmt_share(counts.get((theme_id, w), 0) / n)}" for w, n in totals.items())
    return role, out


def _themes_section(data: ReportData, ctx: _Context) -> Section | None:
    if data.themes is None or data.themes.empty:
        return None
    themes = data.themes
    parts = []
    outliers = data.summary.get("outlier_share")
    parts.append(f"<p>{len(themes)} candidate themes"
                 + (f"; {fmt_share(outliers)} of the segments belong to none (outliers, not shown)"
                    if outliers is not None else "")
                 + ". Share: of all segments; by role / wave: of that group's segments. Labels are keywords, "
                 "not findings: read the quotes.</p>")
    by_role, by_wave = _shares(data.themes_by_role, "role"), _shares(data.themes_by_wave, "wave")
    one_wave = _one_wave_roles(data)
    within = _wave_shares_within_role(data, one_wave) if one_wave else None
    wave_column = f"by wave ({within[0]} only)" if within else "by wave"
    if within:
        by_wave = within[1]
    rows = []
    for rec in themes.to_dict("records"):
        share = rec.get("share")
        rows.append({"theme": rec.get("theme_id"), "label": _esc(rec.get("label")),
                     "segments": rec.get("size"),
                     "share": fmt_share(share) if share is not None else "",
                     **({"by role": by_role.get(rec.get("theme_id"), "")} if by_role else {}),
                     **({wave_column: by_wave.get(rec.get("theme_id"), "")} if by_wave else {})})
    parts.append(_table(pd.DataFrame(rows), raw_html=["label", "by role", wave_column], csv=ctx.csv("themes.csv")))
    if one_wave:
        parts.append(f"<p class='note'>Every {_esc(', '.join(one_wave))} document lies in one wave, so shares by "
                     "wave over all segments would mix wave with role"
                     + (f"; the wave column compares waves within {_esc(within[0])} segments only"
                        if within else "; compare waves within one role")
                     + " (all segments: themes_by_wave.csv).</p>")
    links = [f"<a href='{name}'>{name}</a>" for name in ("figures/barchart.html", "figures/intertopic.html")]
    if data.link_files:
        parts.append(f"<p class='muted'>Interactive figures: {' · '.join(links)} (keywords per theme, map of "
                     "how close the themes are).</p>")
    parts.append("<h3>Quotes</h3>")
    quotes_of = theme_quotes(themes, data.theme_quotes)
    for rec in themes.to_dict("records"):
        quotes = quotes_of.get(rec.get("theme_id"), [])
        if not quotes:
            continue
        items = "".join(
            f"<blockquote>{_esc(_shorten(q.get('text')))} <span class='cite'>{_esc(q.get('doc_id'))} "
            f"[{_esc(q.get('start'))}:{_esc(q.get('end'))}]</span></blockquote>" for q in quotes)
        parts.append(f"<details><summary>Theme {_esc(rec.get('theme_id'))}: {_esc(rec.get('label'))} "
                     f"<span class='muted'>({len(quotes)} quotes)</span></summary>{items}</details>")
    parts.append("<p class='muted'>Quotes are verbatim, with document and character offsets.</p>")
    return Section("themes", "Candidate themes", "".join(parts))


def _codebook_section(data: ReportData, ctx: _Context) -> Section | None:
    codes_list = _codebook_codes(data.codebook)
    segs = data.segments if data.segments is not None else pd.DataFrame()
    if not codes_list and (data.codes is None or data.codes.empty):
        return None
    parts = []
    freq = None
    if data.codes is not None and not data.codes.empty and not segs.empty:
        roles = _role_of_segments(data, data.codes["segment_id"])
        coded = data.codes.assign(role=data.codes["segment_id"].map(roles).fillna("unknown"))
        freq = coded.groupby(["code", "role"]).size().unstack(fill_value=0)
    rows = []
    for code in codes_list:
        definition = _shorten(getattr(code, "definition", "") or "", 200)
        if not getattr(code, "codable", True):
            definition = f"(heading: groups the codes below it, never assigned) {definition}"
        row = {"code": code.name, "definition": definition}
        if freq is not None:
            for role in freq.columns:
                row[f"segments ({role})"] = int(freq.loc[code.name, role]) if code.name in freq.index else 0
        rows.append(row)
    if rows:
        parts.append(_table(pd.DataFrame(rows), csv=ctx.csv("codes.csv")))
    elif freq is not None:
        parts.append(_table(freq.reset_index(), csv=ctx.csv("codes.csv")))
    if freq is not None:
        parts.append(_img(ctx.plot(_bar_by_role, freq, "Machine-coded segments per code and role", "segments"),
                          "code frequencies"))
    return Section("codebook", "Codebook and code frequencies", "".join(parts))


def _theme_codes_section(data: ReportData, ctx: _Context) -> Section | None:
    table = data.theme_codes
    if table is None or table.empty:
        return None
    keep = [c for c in ("theme_id", "label", "best_code", "best_score") if c in table]
    parts = []
    score_cols = [c for c in table.columns if str(c).startswith("score_")]
    if score_cols and "theme_id" in table and len(table) <= 40:
        matrix = table.set_index("theme_id")[score_cols]
        matrix.columns = [c.removeprefix("score_") for c in score_cols]
        parts.append(_img(ctx.plot(_heatmap, matrix, "Theme → code scores", fmt="{:.2f}", cmap="Greens"),
                          "theme code map"))
    parts.append(_table(table[keep] if keep else table, csv=ctx.csv("theme_codes.csv")))
    return Section("theme-codes", "Themes mapped to codes", "".join(parts))


#: Columns of the per-code agreement table shown on the page (all are in agreement.csv).
AGREEMENT_COLUMNS = ("code", "prevalence", "kappa", "alpha", "ac1", "precision", "recall", "f1", "support")


def _agreement_section(data: ReportData, ctx: _Context) -> Section | None:
    if data.agreement is None:
        return None
    parts = []
    agreement = data.agreement
    shown = agreement[[c for c in AGREEMENT_COLUMNS if c in agreement]].copy()
    if "kappa" in shown and "kappa_ci_low" in agreement:
        shown["kappa"] = [_ci(v, lo, hi) for v, lo, hi in zip(agreement["kappa"], agreement["kappa_ci_low"],
                                                               agreement["kappa_ci_high"], strict=True)]
    s = data.summary
    headline = [(k, s[k]) for k in ("micro_f1", "macro_f1", "mean_kappa", "exact_match", "n_units") if k in s]
    if headline:
        parts.append("<p>" + " · ".join(f"{k.replace('_', ' ')} <b>{fmt_number(v)}</b>" for k, v in headline)
                     + "</p>")
    parts.append(_table(shown, raw_html=["kappa"], csv=ctx.csv("agreement.csv")))
    if data.confusion is not None and not data.confusion.empty:
        matrix = _numeric_matrix(data.confusion)
        if matrix is not None:
            parts.append(_img(ctx.plot(_heatmap, matrix, "Confusion (machine vs gold)"), "confusion heatmap"))
        else:
            parts.append(_table(data.confusion, csv=ctx.csv("confusion.csv")))
    if data.disagreements is not None and not data.disagreements.empty:
        parts.append("<h3>Top disagreements</h3>")
        cols = [c for c in ("doc_id", "text", "machine_codes", "gold_codes") if c in data.disagreements]
        cols += [c for c in data.disagreements.columns if str(c).startswith("coder:")]  # why the gold says so
        parts.append(_table(data.disagreements[cols] if cols else data.disagreements, max_rows=15,
                            csv=ctx.csv("disagreements.csv")))
    return Section("agreement", "Agreement with gold codes", "".join(parts))


def _run_section(data: ReportData, ctx: _Context) -> Section | None:
    manifest = data.manifest
    if not manifest:
        return None
    rows = []
    for key, value in manifest.items():
        if key == "options" and isinstance(value, dict):
            rows += [{"setting": k, "value": _plain(v)} for k, v in value.items() if v is not None]
        elif key == "parts" and isinstance(value, dict):
            from .config import describe_part

            # each part with the parameters it was given; manifest.json has them all
            rows += [{"setting": k, "value": describe_part(k, v)} for k, v in value.items() if isinstance(v, dict)]
        elif key == "model" and isinstance(value, dict):
            rows.append({"setting": "model", "value": Path(str(value.get("path", ""))).name
                         + (f" ({str(value.get('fingerprint', ''))[:12]})" if value.get("fingerprint") else "")})
        elif key == "timings_s" and isinstance(value, dict):
            rows.append({"setting": "seconds per stage",
                         "value": ", ".join(f"{k} {float(v):.1f}" for k, v in value.items())})
        else:
            rows.append({"setting": key, "value": _plain(value)})
    link = " Everything else is in <a href='manifest.json'>manifest.json</a>." if data.link_files else ""
    return Section("run", "Run", _table(pd.DataFrame(rows), max_rows=100) + f"<p class='muted'>{link}</p>")


def _plain(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return _compact(value)
    return str(value)


#: The report's sections, in order.  Add one with :func:`add_section`.
def _theme_quality_sections(data: ReportData, ctx: _Context) -> list[Section]:
    """Stable vs unstable themes, and themes beside codes (:func:`psythemes.theme_quality.quality_sections`)."""
    from .theme_quality import quality_sections

    return [Section(part.id, part.title, part.intro_html + _table(part.table, max_rows=None, as_text=True))
            for part in quality_sections(data.themes, data.theme_code_shares)]


def _extra_sections(data: ReportData, ctx: _Context) -> list[Section]:
    """Sections other modules rendered (``ReportData.extra_sections``), e.g. saturation."""
    return [Section(*parts) for parts in data.extra_sections]


SECTIONS: list[SectionBuilder] = [_trust_section, _overview_section, _themes_section, _codebook_section,
                                  _theme_codes_section, _theme_quality_sections, _agreement_section,
                                  _extra_sections, _run_section]


def add_section(builder: SectionBuilder, *, after: str | None = None) -> None:
    """Add a section builder to the report, after the builder named ``after`` (default: before Run).

    ``builder(data, ctx)`` returns a :class:`Section` or None; ``ctx.plot(draw, ...)`` draws a
    cached figure and ``ctx.csv(name)`` gives a CSV link (or None).
    """
    names = [b.__name__ for b in SECTIONS]
    if builder.__name__ in names:
        return
    at = names.index(after) + 1 if after in names else names.index("_run_section")
    SECTIONS.insert(at, builder)


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
    ctx = _Context(data, _FigureCache(figure_cache))
    sections: list[Section] = []
    for builder in SECTIONS:  # a builder gives one section, a list of them, or None
        made = builder(data, ctx)
        sections.extend(made if isinstance(made, list) else [] if made is None else [made])
    nav = "".join(f"<li><a href='#{s.anchor}'>{_esc(s.title)}</a></li>" for s in sections)
    body = "".join(f"<section id='{s.anchor}'><h2>{_esc(s.title)}</h2>{s.html}</section>" for s in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(data.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_esc(data.title)}</h1><p class='muted'>Machine suggestions for researchers to check, "
        f"not findings.</p><nav><b>Contents</b><ol>{nav}</ol></nav>{body}</body></html>\n"
    )


def _wide(table: pd.DataFrame, by: str) -> pd.DataFrame | None:
    """Long prevalence table (theme, class, count) → wide counts, when it has that shape."""
    cols = set(table.columns)
    theme_col = next((c for c in ("theme_label", "label", "theme_id") if c in cols), None)
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


# ============================================================================= sections of other stages
# Report sections whose figures are kept in the report's cache folder: the stage modules compute
# in memory (psythemes.saturation) and never write the figure themselves.

if TYPE_CHECKING:
    from .saturation import SaturationResult


def saturation_section(results: Sequence[SaturationResult], *, cache_dir: Any = None,
                       run: Callable[..., Any] | None = None) -> tuple[str, str, str]:
    """``(anchor, title, html)`` of a report section: the plot, one sentence per kind, the rule.

    ``cache_dir`` (optional) keeps the drawn plot by what it shows, so a re-run with the same
    counts does not import matplotlib to draw it again.  ``run(function, *args)`` (optional)
    draws it elsewhere: on Dask, in a worker process (a bar per transcript: at 20,000
    transcripts matplotlib's artists take about 300 MB, which the client need not hold).
    """
    if not results:
        return ("saturation", "Saturation", "<p>Nothing to count.</p>")
    png = base64.b64encode(_cached_saturation_plot(results, cache_dir, run)).decode("ascii")
    lines = "".join(f"<li>{html.escape(r.summary())}</li>" for r in results)
    body = (f"<img alt='new codes and themes per added transcript' src='data:image/png;base64,{png}' "
            f"style='max-width:100%'><ul>{lines}</ul><p class='note'>Stopping rule: {html.escape(results[0].rule)} "
            "Codes the codebook fixes in advance saturate by construction; read the curve of themes and of your own "
            "codes.</p>")
    return ("saturation", "Saturation", body)


def _cached_saturation_plot(results: Sequence[SaturationResult], cache_dir: Any,
                            run: Callable[..., Any] | None = None) -> bytes:
    from .saturation import plot_saturation  # looked up on each call (tests replace it)

    def draw() -> bytes:  # on a Dask worker when the runner gives one (keeps matplotlib off the client)
        return bytes(run(plot_saturation, list(results))) if run is not None else plot_saturation(results)

    if cache_dir is None:
        return draw()
    digest = hashlib.sha256()
    for res in results:
        digest.update(f"{res.kind}|{res.ordered}|{res.saturation_at}".encode())
        digest.update(res.curve.to_csv(index=False).encode())
    path = Path(cache_dir) / f"saturation-{digest.hexdigest()[:24]}.png"
    if path.is_file():
        return path.read_bytes()
    png = draw()
    try:
        from .outputs import write_bytes

        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, png)
    except OSError:  # a read-only cache only costs the drawing
        pass
    return png
