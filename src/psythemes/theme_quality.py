"""How good are candidate themes?  Coherence, diversity, alignment with codes, theme x code table.

- :func:`npmi_coherence`: normalised pointwise mutual information of each theme's top keywords
  over the corpus, one segment = one document (Bouma 2009; the ``c_npmi`` of Röder et al. 2015
  with the whole segment as the co-occurrence window).  The formula is gensim's
  (``log_ratio_measure(normalize=True)``, epsilon 1e-12, all ordered pairs of distinct words,
  arithmetic mean); ``tests/test_theme_quality.py`` checks it against gensim's
  ``CoherenceModel`` when gensim is installed.  A keyword may be a bigram: it occurs in a
  segment when the segment's analyzed terms contain it.
- :func:`topic_diversity`: share of distinct terms among all themes' top keywords (Dieng et
  al. 2020), 1 = no keyword shared.
- :func:`alignment`: NMI, ARI and purity of the theme partition against one human code per
  segment (as TopicGPT reports them).  Outliers count as one more cluster.
- :func:`theme_code_table`: share of each theme's segments per code, from machine codes and
  from gold codes: which themes the codebook misses, which codes no theme captures.
- :func:`quality_sections`: those findings as tables for the report (:mod:`psythemes.report`
  renders them with its one table builder).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["npmi_coherence", "topic_diversity", "alignment", "theme_code_table", "theme_code_shares",
           "gold_codes_of_units", "QualitySection", "quality_sections", "EPSILON"]

#: gensim's smoothing constant in the NPMI log ratio
EPSILON = 1e-12


def npmi_coherence(
    topics: Sequence[Sequence[str]],
    documents: Iterable[str] | Iterable[Iterable[str]],
    *,
    analyzer: Callable[[str], Iterable[str]] | None = None,
    top_n: int = 10,
) -> dict[str, Any]:
    """NPMI coherence of each topic's top ``top_n`` terms, documents as co-occurrence windows.

    Parameters
    ----------
    topics : sequence of sequence of str
        Each theme's keywords, best first.
    documents : iterable of str or of token lists
        The corpus (one segment = one document).  Strings are split with ``analyzer``.
    analyzer : callable, optional
        ``str -> terms`` (e.g. ``CountVectorizer.build_analyzer()``); default: whitespace split.
    top_n : int, default 10

    Returns
    -------
    dict
        ``mean`` (over topics with at least two terms), ``per_topic`` (list; NaN for topics
        with fewer than two terms), ``n_documents``, ``missing_terms`` (terms that occur in no
        document; they make a topic's NPMI undefined, so they are left out of its pairs, as
        gensim would refuse them).
    """
    split = analyzer if analyzer is not None else str.split
    doc_sets = [frozenset(split(d)) if isinstance(d, str) else frozenset(d) for d in documents]
    n_docs = len(doc_sets)
    wanted = {t for topic in topics for t in list(topic)[:top_n]}
    postings: dict[str, set[int]] = {t: set() for t in wanted}
    for i, terms in enumerate(doc_sets):
        for t in terms & wanted:
            postings[t].add(i)
    missing = sorted(t for t, docs in postings.items() if not docs)
    per_topic = []
    for topic in topics:
        terms = [t for t in list(topic)[:top_n] if postings.get(t)]  # type: ignore[assignment]
        if len(terms) < 2 or n_docs == 0:
            per_topic.append(float("nan"))
            continue
        scores = []
        for a, b in permutations(terms, 2):
            p_a, p_b = len(postings[a]) / n_docs, len(postings[b]) / n_docs
            p_ab = len(postings[a] & postings[b]) / n_docs
            scores.append(np.log((p_ab + EPSILON) / (p_a * p_b)) / -np.log(p_ab + EPSILON))
        per_topic.append(float(np.mean(scores)))
    finite = [v for v in per_topic if not np.isnan(v)]
    return {"mean": float(np.mean(finite)) if finite else float("nan"), "per_topic": per_topic,
            "n_documents": n_docs, "missing_terms": missing}


def topic_diversity(topics: Sequence[Sequence[str]], top_n: int = 10) -> float:
    """Distinct terms among the themes' top ``top_n`` keywords / all of them (1 = none shared)."""
    terms = [t for topic in topics for t in list(topic)[:top_n]]
    return len(set(terms)) / len(terms) if terms else float("nan")


def alignment(themes: Sequence[Any], codes: Sequence[Any]) -> dict[str, float]:
    """Agreement of a theme partition with one human code per segment.

    Parameters
    ----------
    themes, codes : sequences of the same length
        Theme id and code of each segment (only segments that have a code).

    Returns
    -------
    dict
        ``nmi`` (arithmetic normalisation), ``ari``, ``purity`` (share of segments whose code is
        their theme's most common code), ``inverse_purity`` (the same with codes as clusters),
        ``n``.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    t = np.asarray([str(x) for x in themes])
    c = np.asarray([str(x) for x in codes])
    if len(t) != len(c):
        raise ValueError(f"{len(t)} themes for {len(c)} codes")
    if len(t) == 0:
        return {"nmi": float("nan"), "ari": float("nan"), "purity": float("nan"), "inverse_purity": float("nan"),
                "n": 0}
    table = pd.crosstab(t, c)
    return {
        "nmi": float(normalized_mutual_info_score(c, t)),
        "ari": float(adjusted_rand_score(c, t)),
        "purity": float(table.max(axis=1).sum() / len(t)),
        "inverse_purity": float(table.max(axis=0).sum() / len(t)),
        "n": int(len(t)),
    }


def theme_code_table(
    segment_themes: pd.DataFrame,
    themes: pd.DataFrame | None = None,
    *,
    machine: pd.DataFrame | None = None,
    gold: pd.DataFrame | Mapping[str, Sequence[str]] | None = None,
    outliers: bool = True,
    gold_covered: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Share of each theme's segments per code, machine and gold (long format).

    Parameters
    ----------
    segment_themes : DataFrame
        ``segment_id, theme_id`` (``segment_themes.csv``).
    themes : DataFrame, optional
        ``theme_id, label`` (and ``stable`` when the stability check ran): copied in.
    machine : DataFrame, optional
        Machine codes, ``segment_id, code`` (``codes.csv``; one row per assignment).
    gold : DataFrame or mapping, optional
        Human codes, ``segment_id, code`` (e.g. :func:`psythemes.evaluate.align_gold` output),
        or ``{segment_id: [codes]}``.
    outliers : bool, default True
        Include theme -1 (segments in no theme): codes found mostly there are codes no theme
        captures.
    gold_covered : iterable of str, optional
        Ids of the segments the gold covers (the segments of the documents someone coded).  A
        theme's gold shares are of those of its segments only: a segment of an uncoded document
        is not "coded with nothing".  Default: every segment.

    Returns
    -------
    DataFrame
        One row per (source, theme, code) with at least one segment: ``source`` (machine/gold),
        ``theme_id``, ``label``, ``code``, ``n_segments``, ``share_of_theme`` (of the theme's
        segments, coded or not; for gold, of those ``gold_covered``), ``share_of_code`` (of that
        code's segments in this source),
        then ``stable`` when known.  A segment with two codes counts once for each.
    """
    st = segment_themes[["segment_id", "theme_id"]].copy()
    st["segment_id"] = st["segment_id"].astype(str)
    st["theme_id"] = st["theme_id"].astype(int)
    if not outliers:
        st = st[st["theme_id"] != -1]
    theme_size = st.groupby("theme_id").size()
    sources = []
    if machine is not None:
        sources.append(("machine", machine))
    if gold is not None:
        if isinstance(gold, Mapping):
            gold = pd.DataFrame([(s, c) for s, cs in gold.items() for c in cs], columns=["segment_id", "code"])
        sources.append(("gold", gold))
    covered_size = (st[st["segment_id"].isin(set(map(str, gold_covered)))].groupby("theme_id").size()
                    if gold_covered is not None else theme_size)
    rows = []
    for name, table in sources:
        codes = table[["segment_id", "code"]].dropna().astype(str).drop_duplicates()
        joined = codes.merge(st, on="segment_id", how="inner")
        code_total = joined.groupby("code").size()
        counts = joined.groupby(["theme_id", "code"]).size()
        sizes = covered_size if name == "gold" else theme_size
        for (theme, code), k in counts.items():
            rows.append({"source": name, "theme_id": int(theme), "code": code, "n_segments": int(k),
                         "share_of_theme": round(k / max(int(sizes.get(theme, 0)), int(k)), 4),
                         "share_of_code": round(k / int(code_total[code]), 4)})
    out = pd.DataFrame(rows, columns=["source", "theme_id", "code", "n_segments", "share_of_theme", "share_of_code"])
    labels = {-1: "(no theme)"}
    stable: dict[int, Any] = {}
    if themes is not None:
        labels.update(zip(themes["theme_id"].astype(int), themes["label"].astype(str), strict=True))
        if "stable" in themes.columns:
            stable = dict(zip(themes["theme_id"].astype(int), themes["stable"], strict=True))
    out.insert(2, "label", out["theme_id"].map(labels).fillna(""))
    if stable:
        out["stable"] = out["theme_id"].map(stable)
    return out.sort_values(["source", "theme_id", "n_segments", "code"], ascending=[True, True, False, True],
                           kind="stable").reset_index(drop=True)


def theme_code_shares(
    segment_themes: pd.DataFrame,
    themes: pd.DataFrame | None,
    codes: pd.DataFrame | None,
    gold: pd.DataFrame | None,
    segments: pd.DataFrame,
    evaluation: Any = None,
) -> pd.DataFrame:
    """:func:`theme_code_table` of one run: machine codes and gold spans (aligned to segments).

    Gold spans (``doc_id, start, end, code, coder``) are put on segments with
    :func:`psythemes.evaluate.align_gold`; a segment's gold codes are those of any coder.
    This is ``theme_code_shares.csv`` of ``psythemes extract``.  Given the run's
    :class:`~psythemes.evaluate.Evaluation` of the same gold and segments, its aligned units
    are reused (:func:`gold_codes_of_units`) instead of aligning the gold a second time.
    """
    aligned: Any = None
    if gold is not None and not gold.empty:
        aligned = gold_codes_of_units(evaluation) if evaluation is not None else None
        if aligned is None:
            from .evaluate import align_gold

            frame = gold if "coder" in gold.columns else gold.assign(coder="gold")
            aligned, _ = align_gold(frame, segments)
    covered = None
    if gold is not None and not gold.empty:
        coded_docs = set(gold["doc_id"].astype(str))
        covered = segments.loc[segments["doc_id"].astype(str).isin(coded_docs), "segment_id"].astype(str)
    return theme_code_table(segment_themes, themes, machine=codes, gold=aligned, gold_covered=covered)


def gold_codes_of_units(evaluation: Any) -> dict[str, list[str]] | None:
    """``segment_id -> gold codes of any coder`` from an Evaluation's ``units`` table, in which
    :func:`psythemes.evaluate.evaluate` already aligned the gold spans to the segments.

    None when the table lacks the per-coder columns, or when a code name contains the ``;``
    that joins a unit's codes there (the caller then aligns the gold itself).
    """
    from .evaluate import _SET_SEP

    units = getattr(evaluation, "units", None)
    coder_columns = [c for c in getattr(units, "columns", ()) if str(c).startswith("coder:")]
    if units is None or units.empty or not coder_columns or "segment_id" not in units.columns:
        return None
    names = evaluation.per_code["code"].astype(str) if "code" in getattr(evaluation.per_code, "columns", ()) else []
    if any(_SET_SEP in name for name in names):
        return None
    out: dict[str, list[str]] = {}
    for seg, *cells in units[["segment_id", *coder_columns]].itertuples(index=False):
        found = sorted({code for cell in cells if isinstance(cell, str) and cell for code in cell.split(_SET_SEP)})
        if found:
            out[str(seg)] = found
    return out


@dataclass(frozen=True)
class QualitySection:
    """One report section about theme quality: the report renders ``table`` below ``intro_html``.

    Attributes
    ----------
    id, title : str
        Anchor and heading.
    intro_html : str
        Paragraphs before the table (HTML, participant words already escaped).
    table : DataFrame
        The table to show, cells as text.
    """

    id: str
    title: str
    intro_html: str
    table: pd.DataFrame


def quality_sections(themes: pd.DataFrame | None, shares: pd.DataFrame | None) -> list[QualitySection]:
    """Stable vs unstable themes, and themes beside codes, as tables for the report.

    The stability section appears when the themes have a ``stability`` column (``n_runs > 1``);
    the theme x code section when ``shares`` (:func:`theme_code_shares`) has rows.  Each cell of
    the theme x code table is "machine % / gold %" of the theme's segments; themes where no code
    reaches 20 % are candidates for new codes, codes that reach 20 % in no theme are codes no
    theme captures.  :mod:`psythemes.report` renders them.
    """
    from html import escape

    sections = []
    if themes is not None and "stability" in themes.columns and not themes.empty:
        table = themes[["theme_id", "label", "size", "stability", "stable"]].copy()
        unstable = table[~table["stable"].astype(bool)]
        text = (f"<p>{len(table) - len(unstable)} of {len(table)} themes are stable: they reappear (mean best-match "
                "Jaccard of their segments &ge; 0.5) when the discovery is run with other seeds "
                "(and on resamples of the transcripts, when asked). The run shown is the most central one.</p>")
        if len(unstable):
            text += ("<p><b>Unstable</b> (an accident of this run, read with care): "
                     + "; ".join(f"{escape(str(r.label))} ({r.stability:.2f})" for r in unstable.itertuples()) + "</p>")
        sections.append(QualitySection("theme-stability", "Stable and unstable themes", text, table))
    if shares is not None and not shares.empty:
        cell = shares.assign(pct=(100 * shares["share_of_theme"]).round().astype(int).astype(str) + "%")
        wide = cell.pivot_table(index=["theme_id", "label"], columns=["code", "source"], values="pct",
                                aggfunc="first")
        codes = sorted({c for c, _ in wide.columns})
        out = pd.DataFrame(index=wide.index)
        for code in codes:
            parts = [wide[(code, s)] if (code, s) in wide.columns else pd.Series("", index=wide.index)
                     for s in ("machine", "gold")]
            out[code] = [f"{m if isinstance(m, str) else '0%'} / {g if isinstance(g, str) else '0%'}"
                         for m, g in zip(*parts, strict=True)]
        out = out.reset_index()
        if themes is not None and not themes.empty:
            # a theme none of whose segments got a code has no row in shares: it is shown too
            uncoded = themes.loc[~themes["theme_id"].isin(out["theme_id"]), ["theme_id", "label"]]
            out = pd.concat([out, uncoded.assign(**dict.fromkeys(codes, "0% / 0%"))], ignore_index=True)
            out = out.sort_values("theme_id", kind="stable").reset_index(drop=True)
        # one rule for both lists: a code "reaches" a theme by the machine or by the coders
        top = shares.groupby("theme_id")["share_of_theme"].max()
        new = sorted(int(t) for t in out["theme_id"] if t != -1 and top.get(t, 0.0) < 0.2)
        in_theme = shares[shares["theme_id"] != -1]
        covered = set(in_theme.loc[in_theme["share_of_theme"] >= 0.2, "code"])
        missed = sorted(set(shares["code"]) - covered)
        text = ("<p>Share of each theme's segments per code, <b>machine % / gold %</b> "
                "(theme -1: segments in no theme).</p>")
        if new:
            text += ("<p>Themes where no code reaches 20 % of the segments, by the machine or by the coders "
                     "(candidates for new codes): "
                     f"{escape(', '.join(map(str, new)))}.</p>")
        if missed:
            text += (f"<p>Codes that reach 20 % in no theme, by the machine or by the coders: "
                     f"{escape(', '.join(missed))}.</p>")
        sections.append(QualitySection("theme-code-shares", "Themes beside codes", text, out))
    return sections
