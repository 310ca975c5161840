"""Saturation: how many new codes and themes each added transcript brings.

For each kind of item (codes, gold or machine; candidate themes) the transcripts are taken
one after another and the number of items not seen in any earlier transcript is counted.
The order is the interview order when the metadata gives one (a column named like
``interview_date``, ``date``, ``interview_order`` or ``order``), else many random orders,
summarised by the mean and a 95 % band.

The stopping rule is the one of Guest, Namey & Chen (2020), "A simple method to assess
and report thematic saturation in qualitative research", *PLOS ONE* 15(5): e0232076:
with a **base size** of ``b`` transcripts (default 4) and a **run length** of ``r``
(default 2), the *new-information ratio* of a run is the number of new items in the run
divided by the number of distinct items in the base; saturation is reached at the end of
the first run (runs start after the base and move one transcript at a time) whose ratio is
at most the **threshold** (default 5 %; 0 % is the strict variant).  psythemes reports the
figure; whether to stop interviewing stays the researcher's decision.

Everything here works in memory; the report section (with its plot kept in the report's cache
folder) is :func:`psythemes.report.saturation_section`.
"""

from __future__ import annotations

import io as _io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._moved import forward
from .errors import InputError, excerpt

__all__ = ["SaturationResult", "saturation", "saturation_table", "interview_order", "GUEST_RULE"]

#: The stopping rule as stated in reports.
GUEST_RULE = ("Guest, Namey & Chen (2020, PLOS ONE 15(5): e0232076): saturation is reached at the end of the first "
              "run of {run} transcript(s) after a base of {base} whose new items number at most {pct:.0f} % of the "
              "distinct items in the base.")
#: Metadata columns that give the interview order, most specific first.
ORDER_COLUMNS = ("interview_date", "date", "interview_order", "order", "interview_no", "interview_number")


@dataclass(frozen=True)
class SaturationResult:
    """New items per added transcript, and where the stopping rule is met.

    Attributes
    ----------
    kind : str
        What was counted (``codes``, ``themes``).
    ordered : bool
        True: one interview order from the metadata; False: random orders.
    curve : DataFrame
        Per position ``n`` (1-based): ``new_mean``, ``new_low``, ``new_high``,
        ``cumulative_mean``, ``cumulative_low``, ``cumulative_high`` (low = high = mean with
        one order), and with one order ``doc_id`` and ``run_new_share``: the new items of the
        run that ends at ``n`` over the distinct items of the base (empty where no run ends).
    saturation_at : list of int or None
        Per order, the number of transcripts at which the rule is met (None: not met).
    n_items : int
        Distinct items over all transcripts.
    base_size, run_length, threshold : int, int, float
    """

    kind: str
    ordered: bool
    curve: pd.DataFrame
    saturation_at: list[int | None]
    n_items: int
    base_size: int
    run_length: int
    threshold: float

    @property
    def rule(self) -> str:
        return GUEST_RULE.format(run=self.run_length, base=self.base_size, pct=100 * self.threshold)

    def summary(self) -> str:
        """One sentence with the figure."""
        hits = [s for s in self.saturation_at if s is not None]
        n_docs = len(self.curve)
        if self.ordered:
            # name the transcript: with gold, the positions count the coded transcripts only
            where = (f"reached after {hits[0]} of {n_docs} transcripts (at {self.curve['doc_id'].iloc[hits[0] - 1]})"
                     if hits else f"not reached within {n_docs} transcripts")
            return f"{self.kind}: {self.n_items} distinct; in interview order, saturation {where}."
        if not hits:
            return (f"{self.kind}: {self.n_items} distinct; saturation not reached in any of "
                    f"{len(self.saturation_at)} random orders of {n_docs} transcripts.")
        share = len(hits) / len(self.saturation_at)
        q = np.percentile(hits, [50, 2.5, 97.5])
        return (f"{self.kind}: {self.n_items} distinct; over {len(self.saturation_at)} random orders saturation is "
                f"reached in {share:.0%} of them, after a median of {q[0]:.0f} transcripts "
                f"(95 % of orders: {q[1]:.0f} to {q[2]:.0f}) of {n_docs}.")


def interview_order(metadata: pd.DataFrame | None, doc_ids: Sequence[str], *, warn: bool = True
                    ) -> list[str] | None:
    """The documents in interview order when the metadata gives it for every one of them, else None.

    The column is the first of :data:`ORDER_COLUMNS` that the metadata has, its header matched
    ignoring case, spaces and underscores (``Interview date``).  Dates in ISO form (``2022-03-14``)
    are read as such; ``14/03/2022`` is read day first when some day is over 12 or when nothing
    tells (a warning says so), month first when some month position is over 12.  With ``warn``,
    a warning says why a column there gave no order (a value missing or not a date), and which
    documents share a date or number (ordered by ``doc_id``).
    """
    import warnings

    from .errors import PsythemesWarning

    if metadata is None or metadata.empty or "doc_id" not in metadata.columns:
        return None
    meta = metadata.drop_duplicates("doc_id").set_index("doc_id")
    from .tables import header_key

    headers = {header_key(c): c for c in meta.columns}
    for col in ORDER_COLUMNS:
        if header_key(col) not in headers:
            continue
        header = headers[header_key(col)]
        values = meta[header].reindex(list(doc_ids))
        text = values.astype(str).str.strip().where(values.notna(), "")
        if "date" in col:
            key, guessed = _dates(text)
        else:
            key, guessed = pd.to_numeric(text.where(text != ""), errors="coerce"), None
        bad = [d for d in doc_ids if pd.isna(key[d])]
        if bad:
            if warn:
                what = "a date" if "date" in col else "a number"
                # the documents are named; the cells' words only with PSYTHEMES_VERBOSE (docs/privacy.md)
                shown = ", ".join(f"{d}{excerpt(text[d])}" if text[d] else f"{d} (empty)" for d in bad[:3])
                warnings.warn(f"metadata column {header!r} gives no interview order: not {what} for "
                              f"{len(bad)} transcript(s): {shown}{', ...' if len(bad) > 3 else ''}; saturation uses "
                              "random orders", PsythemesWarning, stacklevel=3)
            continue
        if warn and guessed:
            warnings.warn(f"metadata column {header!r}: dates such as 03/04/2021 could be day or month first; "
                          f"read day first{excerpt(guessed)} (write dates as YYYY-MM-DD to say)", PsythemesWarning,
                          stacklevel=3)
        tied = key[key.duplicated(keep=False)]
        if warn and len(tied):
            warnings.warn(f"metadata column {header!r}: {len(tied)} transcripts share a value with another "
                          f"(e.g. {', '.join(map(str, tied.index[:3]))}): those are ordered by doc_id",
                          PsythemesWarning, stacklevel=3)
        return sorted(doc_ids, key=lambda d: (key[d], d))
    return None


_NUMERIC_DATE = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ].*)?")


def _dates(text: pd.Series) -> tuple[pd.Series, str | None]:
    """Dates of a column of date texts (NaT where not a date), and an example when the order of
    day and month had to be guessed.  ISO dates (``2022-03-14``, also with a time, as Excel cells
    read back) are read as such; ``dd/mm/yyyy`` (also with ``.`` or ``-``) day first if a first
    field is over 12, month first if a second is, day first with a guess when neither; other
    texts (``14 March 2022``) as pandas reads them."""
    iso = text.str.fullmatch(_ISO_DATE.pattern)
    numeric = text.str.fullmatch(_NUMERIC_DATE.pattern) & ~iso
    other = ~iso & ~numeric & (text != "")
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if iso.any():
        out[iso] = pd.to_datetime(text[iso], errors="coerce", format="ISO8601")
    guessed = None
    if numeric.any():
        fields = text[numeric].str.extract(_NUMERIC_DATE.pattern).astype(int)
        month_first = bool((fields[1] > 12).any()) and not bool((fields[0] > 12).any())
        if not month_first and not bool((fields[0] > 12).any()):
            guessed = str(text[numeric].iloc[0])
        out[numeric] = pd.to_datetime(text[numeric], errors="coerce", dayfirst=not month_first, format="mixed")
    if other.any():
        out[other] = pd.to_datetime(text[other], errors="coerce", format="mixed")
    return out, guessed


def _new_per_position(order: Sequence[str], items: dict[str, set[str]]) -> np.ndarray:
    seen: set[str] = set()
    out = np.zeros(len(order), dtype=int)
    for k, doc in enumerate(order):
        found = items.get(doc, set())
        out[k] = len(found - seen)
        seen |= found
    return out


def _run_new_shares(new: np.ndarray, base: int, run: int) -> list[float]:
    """Per position, the new-information ratio of the run ending there (NaN where none ends)."""
    in_base = int(new[:base].sum())
    out = [float("nan")] * len(new)
    if in_base:
        for start in range(base, len(new) - run + 1):
            out[start + run - 1] = float(new[start:start + run].sum()) / in_base
    return out


def _saturation_point(new: np.ndarray, base: int, run: int, threshold: float) -> int | None:
    """The number of transcripts after which the first run's ratio is at most ``threshold``."""
    return next((n + 1 for n, share in enumerate(_run_new_shares(new, base, run)) if share <= threshold), None)


def saturation(items: pd.DataFrame, *, docs: Sequence[str] | None = None, order: Sequence[str] | None = None,
               kind: str = "codes", base_size: int = 4, run_length: int = 2, threshold: float = 0.05,
               n_orders: int = 200, random_state: int = 0) -> SaturationResult:
    """New items per added transcript (see the module docstring).

    Parameters
    ----------
    items : DataFrame
        ``doc_id, item``: which item (code, theme) occurs in which transcript (repeats are fine).
    docs : sequence of str, optional
        Every transcript, including those with no item (default: those in ``items``).
    order : sequence of str, optional
        Interview order (e.g. from :func:`interview_order`); default: ``n_orders`` random orders.
    kind : str
        Name of what is counted, for messages.
    base_size, run_length, threshold
        The stopping rule of Guest et al. (2020).
    n_orders, random_state
        Random orders when there is no interview order.
    """
    if (not all(isinstance(v, (int, np.integer)) for v in (base_size, run_length))
            or base_size < 1 or run_length < 1 or not 0 <= threshold < 1):
        raise InputError("saturation needs whole numbers base_size >= 1 and run_length >= 1, and 0 <= threshold < 1")
    if not {"doc_id", "item"} <= set(items.columns):
        raise InputError("saturation needs a table with doc_id and item columns")
    by_doc: dict[str, set[str]] = {}
    for doc, item in zip(items["doc_id"].astype(str), items["item"].astype(str), strict=True):
        by_doc.setdefault(doc, set()).add(item)
    all_docs = list(dict.fromkeys([*(docs if docs is not None else []), *by_doc]))
    if not all_docs:
        raise InputError(f"no transcripts to count {kind} in")
    if order is not None:
        missing = sorted(set(all_docs) - set(order))
        if missing:
            raise InputError(f"interview order lacks {len(missing)} transcript(s), e.g. {missing[0]!r}")
        repeated = sorted(d for d, n in Counter(order).items() if n > 1)
        if repeated:
            raise InputError(f"interview order names {repeated[0]!r} more than once")
        known = set(all_docs)
        unknown = [d for d in order if d not in known] if docs is not None else []
        if unknown:
            raise InputError(f"interview order names {len(unknown)} transcript(s) not among docs, e.g. {unknown[0]!r}")
        new = _new_per_position(list(order), by_doc)[np.newaxis, :]
    else:
        rng = np.random.default_rng(random_state)
        # one random order at a time (same draws as all at once): 200 orders of 20,000 document
        # ids held together would be four million strings
        new = np.vstack([_new_per_position(list(rng.permutation(all_docs)), by_doc) for _ in range(n_orders)])
    cum = np.cumsum(new, axis=1)
    lo, hi = (2.5, 97.5)
    curve = pd.DataFrame({
        "n": np.arange(1, new.shape[1] + 1),
        "new_mean": new.mean(axis=0), "new_low": np.percentile(new, lo, axis=0),
        "new_high": np.percentile(new, hi, axis=0),
        "cumulative_mean": cum.mean(axis=0), "cumulative_low": np.percentile(cum, lo, axis=0),
        "cumulative_high": np.percentile(cum, hi, axis=0),
    })
    if order is not None:
        curve.insert(1, "doc_id", list(order))
        curve["run_new_share"] = _run_new_shares(new[0], base_size, run_length)
    points = [_saturation_point(row, base_size, run_length, threshold) for row in new]
    return SaturationResult(kind=kind, ordered=order is not None, curve=curve, saturation_at=points,
                            n_items=len(set().union(*by_doc.values())) if by_doc else 0, base_size=base_size,
                            run_length=run_length, threshold=threshold)


def saturation_table(results: Sequence[SaturationResult]) -> pd.DataFrame:
    """The curves of ``results`` as one long table (``saturation.csv``): ``kind``, ``ordered``,
    the curve's columns, and ``saturated`` (True at the position where the rule is met, in
    interview order)."""
    parts = []
    for res in results:
        curve = res.curve.copy()
        hit = res.saturation_at[0] if res.ordered else None
        curve.insert(0, "kind", res.kind)
        curve.insert(1, "ordered", res.ordered)
        curve["saturated"] = curve["n"] == hit if hit is not None else False
        parts.append(curve)
    columns = ["kind", "ordered", "n", "doc_id", "new_mean", "new_low", "new_high", "cumulative_mean",
               "cumulative_low", "cumulative_high", "run_new_share", "saturated"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True).reindex(columns=columns)


def plot_saturation(results: Sequence[SaturationResult]) -> bytes:
    """PNG of new items per added transcript (with the band of random orders) and the cumulative count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 3.4), squeeze=False)
    for ax, res in zip(axes[0], results, strict=True):
        c = res.curve
        ax.bar(c["n"], c["new_mean"], color="C0", alpha=0.7,
               label="new per transcript" + ("" if res.ordered else " (mean of random orders)"))
        if not res.ordered:
            # a skewed count can have its mean outside the 2.5-97.5 % band: clip, never a negative bar
            below = (c["new_mean"] - c["new_low"]).clip(lower=0)
            above = (c["new_high"] - c["new_mean"]).clip(lower=0)
            ax.errorbar(c["n"], c["new_mean"], yerr=[below, above],
                        fmt="none", ecolor="C0", alpha=0.5, lw=0.8)
        twin = ax.twinx()
        twin.plot(c["n"], c["cumulative_mean"], color="C1", label="distinct so far")
        if not res.ordered:
            twin.fill_between(c["n"], c["cumulative_low"], c["cumulative_high"], color="C1", alpha=0.2)
        hits = [s for s in res.saturation_at if s is not None]
        if hits:
            ax.axvline(float(np.median(hits)), color="k", ls="--", lw=0.8, label="saturation (median)" if not
                       res.ordered else "saturation")
        ax.set_title(f"{res.kind} ({'interview order' if res.ordered else f'{len(res.saturation_at)} random orders'})",
                     fontsize=10)
        ax.set_xlabel("transcripts added")
        ax.set_ylabel("new")
        twin.set_ylabel("distinct so far (line)")
        twin.set_ylim(bottom=0)  # from zero, or a flat curve looks like a steep one
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def run_saturation(segments: pd.DataFrame, codes: pd.DataFrame | None, segment_themes: pd.DataFrame | None, *,
                   metadata: pd.DataFrame | None = None, gold: pd.DataFrame | None = None,
                   random_state: int = 0) -> list[SaturationResult]:
    """Saturation of codes (gold when given, else machine) and of candidate themes for one run."""
    docs = list(dict.fromkeys(segments["doc_id"].astype(str)))
    order = interview_order(metadata, docs)
    out = []
    if gold is not None and len(gold):
        table = gold[gold["doc_id"].astype(str).isin(docs)]
        # only the transcripts someone coded: an uncoded one would count as "no new code" and fake saturation
        coded = [d for d in docs if d in set(table["doc_id"].astype(str))]
        out.append(saturation(pd.DataFrame({"doc_id": table["doc_id"], "item": table["code"]}), docs=coded,
                              order=interview_order(metadata, coded, warn=False), kind="codes (gold)",
                              random_state=random_state))
    elif codes is not None and len(codes):
        table = codes[codes["code"].astype(str) != ""]
        out.append(saturation(pd.DataFrame({"doc_id": table["doc_id"], "item": table["code"]}), docs=docs,
                              order=order, kind="codes (machine)", random_state=random_state))
    if segment_themes is not None and len(segment_themes):
        in_theme = (segment_themes["theme_id"].astype(int) >= 0).to_numpy()  # -1: outliers, no theme
        doc_of = _doc_of(segment_themes["segment_id"], segments)[in_theme]
        out.append(saturation(pd.DataFrame({"doc_id": doc_of, "item": segment_themes["theme_id"][in_theme]}).dropna(),
                              docs=docs, order=order, kind="themes", random_state=random_state))
    return out


def _doc_of(segment_ids: pd.Series, segments: pd.DataFrame) -> pd.Series:
    """Each segment's ``doc_id`` (NaN for an unknown segment), indexed as ``segment_ids``.

    When the ids are the segments' own in their order (as ``extract`` makes them, also on Dask)
    the column is taken as it is: no index of a million segment ids for the lookup."""
    ids = segments["segment_id"]
    if len(segment_ids) == len(ids) and bool((segment_ids.array == ids.array).all()):
        return pd.Series(segments["doc_id"].array, index=segment_ids.index)
    return segment_ids.map(segments.set_index("segment_id")["doc_id"])


# Moved to the report (it keeps the drawn plot in the report's cache folder); still importable from here.
__getattr__ = forward(__name__, {
    "saturation_section": "report",
})
