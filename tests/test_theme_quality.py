"""Theme quality measures: NPMI (by hand and against gensim), diversity, alignment, theme x code table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from psythemes.theme_quality import alignment, npmi_coherence, theme_code_table, topic_diversity

DOCS = [
    "sleep night insomnia", "sleep night", "night insomnia tablets", "work manager deadline",
    "work manager", "manager deadline overtime", "sleep work", "dog river walk", "dog walk", "river walk morning",
]


def test_npmi_by_hand():
    # sleep: docs {0,1,6}; night: {0,1,2}; together {0,1}; N = 10
    p_s, p_n, p_sn = 0.3, 0.3, 0.2
    expected = math.log((p_sn + 1e-12) / (p_s * p_n)) / -math.log(p_sn + 1e-12)
    res = npmi_coherence([["sleep", "night"]], DOCS)
    assert res["per_topic"][0] == pytest.approx(expected)
    assert res["n_documents"] == 10
    # never together -> strongly negative (gensim's epsilon keeps it finite, not -1); always together -> 1
    never = math.log(1e-12 / (0.2 * 0.2)) / -math.log(1e-12)
    assert npmi_coherence([["insomnia", "deadline"]], DOCS)["mean"] == pytest.approx(never)
    assert npmi_coherence([["a", "b"]], ["a b", "c", "d"])["mean"] == pytest.approx(1.0)


def test_npmi_leaves_out_unknown_terms_and_single_word_topics():
    res = npmi_coherence([["sleep", "night", "zebra"], ["dog"]], DOCS)
    assert res["missing_terms"] == ["zebra"]
    assert np.isnan(res["per_topic"][1])
    assert res["mean"] == pytest.approx(res["per_topic"][0])


def test_npmi_matches_gensim():
    gensim = pytest.importorskip("gensim")
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    texts = [d.split() for d in DOCS]
    topics = [["sleep", "night", "insomnia"], ["work", "manager", "deadline", "overtime"], ["dog", "river", "walk"]]
    # a window longer than every document = the document is the window
    cm = CoherenceModel(topics=topics, texts=texts, dictionary=Dictionary(texts), coherence="c_npmi",
                        window_size=100, topn=10)
    ours = npmi_coherence(topics, texts)
    assert ours["per_topic"] == pytest.approx(cm.get_coherence_per_topic(), abs=1e-9)
    assert ours["mean"] == pytest.approx(cm.get_coherence(), abs=1e-9)
    assert gensim.__version__


def test_topic_diversity():
    assert topic_diversity([["a", "b"], ["c", "d"]]) == 1.0
    assert topic_diversity([["a", "b"], ["a", "c"]]) == 0.75
    assert topic_diversity([["a", "b", "c"]], top_n=2) == 1.0


def test_alignment():
    perfect = alignment([1, 1, 2, 2, -1], ["x", "x", "y", "y", "z"])
    assert perfect["nmi"] == pytest.approx(1) and perfect["ari"] == pytest.approx(1) and perfect["purity"] == 1
    merged = alignment([0, 0, 0, 0], ["x", "x", "y", "y"])
    assert merged["purity"] == 0.5 and merged["nmi"] == pytest.approx(0) and merged["inverse_purity"] == 1
    assert alignment([], [])["n"] == 0


def test_theme_code_table_shares():
    st = pd.DataFrame({"segment_id": ["s1", "s2", "s3", "s4", "s5"], "theme_id": [0, 0, 0, 1, -1]})
    themes = pd.DataFrame({"theme_id": [0, 1], "label": ["sleep", "work"], "stable": [True, False]})
    machine = pd.DataFrame({"segment_id": ["s1", "s2", "s4", "s4"], "code": ["rest", "rest", "job", "rest"]})
    gold = {"s1": ["rest"], "s3": ["rest"], "s5": ["family"]}
    table = theme_code_table(st, themes, machine=machine, gold=gold)
    m = table[table.source == "machine"].set_index(["theme_id", "code"])
    assert m.loc[(0, "rest"), "n_segments"] == 2
    assert m.loc[(0, "rest"), "share_of_theme"] == pytest.approx(2 / 3, abs=1e-4)
    assert m.loc[(0, "rest"), "share_of_code"] == pytest.approx(2 / 3, abs=1e-4)
    assert m.loc[(1, "job"), "share_of_theme"] == 1.0 and m.loc[(1, "job"), "label"] == "work"
    g = table[table.source == "gold"].set_index(["theme_id", "code"])
    # the family code falls only outside every theme: a code no theme captures
    assert g.loc[(-1, "family"), "label"] == "(no theme)" and g.loc[(-1, "family"), "share_of_code"] == 1.0
    assert table.loc[table.theme_id == 1, "stable"].eq(False).all()
    assert (theme_code_table(st, themes, gold=gold, outliers=False).theme_id != -1).all()


def _small_run():
    segments = pd.DataFrame({"doc_id": ["d"] * 3, "segment_id": ["a", "b", "c"], "start": [0, 10, 20],
                             "end": [9, 19, 29]})
    st = pd.DataFrame({"segment_id": ["a", "b", "c"], "theme_id": [0, 1, 1]})
    themes = pd.DataFrame({"theme_id": [0, 1], "label": ["sleep <b>", "work"], "size": [1, 2],
                           "stability": [0.9, 0.3], "stable": [True, False]})
    gold = pd.DataFrame({"doc_id": ["d", "d", "d"], "start": [0, 20, 20], "end": [9, 29, 29],
                         "code": ["rest", "job", "rest"], "coder": ["A", "B", "A"]})
    codes = pd.DataFrame({"segment_id": ["a", "b"], "code": ["rest", "job"]})
    return segments, st, themes, gold, codes


def test_report_sections_show_unstable_themes_and_shares():
    """theme_quality gives the tables; the report renders them with its one table builder."""
    from psythemes.report import ReportData, render_report
    from psythemes.theme_quality import quality_sections, theme_code_shares

    segments, st, themes, gold, codes = _small_run()
    shares = theme_code_shares(st, themes, codes, gold, segments)
    assert set(shares.source) == {"machine", "gold"}
    parts = {p.id: p for p in quality_sections(themes, shares)}
    assert "1 of 2 themes are stable" in parts["theme-stability"].intro_html
    assert "work (0.30)" in parts["theme-stability"].intro_html
    assert parts["theme-stability"].table["label"].tolist() == ["sleep <b>", "work"]
    cells = parts["theme-code-shares"].table.drop(columns=["theme_id", "label"]).to_numpy().ravel().tolist()
    assert "100% / 100%" in cells and "50% / 50%" in cells
    assert quality_sections(themes.drop(columns=["stability", "stable"]), None) == []
    # candidates for new codes: no code reaches 20 % by the machine or by the coders; a theme no
    # segment of which got any code had no row and was never named (a theme the machine coded at
    # 82 % and the coders at 7 % was named instead)
    more = pd.concat([themes, pd.DataFrame({"theme_id": [2], "label": ["small talk"], "size": [4],
                                            "stability": [0.8], "stable": [True]})], ignore_index=True)
    low = shares.assign(share_of_theme=shares["share_of_theme"].where(
        (shares["theme_id"] != 0) | (shares["source"] == "machine"), 0.07))
    section = {p.id: p for p in quality_sections(more, low)}["theme-code-shares"]
    assert "(candidates for new codes): 2." in section.intro_html
    assert section.table["theme_id"].tolist() == [0, 1, 2]
    assert section.table.iloc[2].drop(["theme_id", "label"]).eq("0% / 0%").all()
    page = render_report(ReportData(title="t", themes=themes, theme_code_shares=shares))
    assert "Stable and unstable themes" in page and "Themes beside codes" in page
    assert "<td>sleep &lt;b&gt;</td>" in page  # escaped, cells as text
    assert "<td>0.3</td>" in page and "<td>100% / 100%</td>" in page


def test_theme_code_shares_reuses_the_evaluations_alignment(monkeypatch):
    """With the run's Evaluation, the gold is not aligned a second time, and the table is the same."""
    from psythemes import evaluate as evaluate_mod
    from psythemes.theme_quality import gold_codes_of_units, theme_code_shares

    segments, st, themes, gold, codes = _small_run()
    segments = segments.assign(text="x" * 9)
    pred = codes.merge(segments[["segment_id", "doc_id", "start", "end"]]).assign(score=0.9, method="zero-shot")
    evaluation = evaluate_mod.evaluate(pred, gold, segments, codes=["rest", "job"], n_boot=0)
    assert gold_codes_of_units(evaluation) == {"a": ["rest"], "c": ["job", "rest"]}
    expected = theme_code_shares(st, themes, codes, gold, segments)

    def no_second_alignment(*args, **kwargs):
        raise AssertionError("align_gold called again")

    monkeypatch.setattr(evaluate_mod, "align_gold", no_second_alignment)
    pd.testing.assert_frame_equal(theme_code_shares(st, themes, codes, gold, segments, evaluation=evaluation), expected)


def test_gold_shares_of_a_theme_count_only_the_documents_someone_coded():
    """Theme 0 has four segments, two in the coded document A; gold codes one of them: half of the
    theme's coded segments, not a quarter (B's segments were never looked at)."""
    from psythemes.theme_quality import theme_code_shares

    segments = pd.DataFrame({"doc_id": ["A", "A", "B", "B"], "segment_id": ["a0", "a1", "b0", "b1"],
                             "start": [0, 10, 0, 10], "end": [9, 19, 9, 19]})
    segment_themes = pd.DataFrame({"segment_id": ["a0", "a1", "b0", "b1"], "theme_id": [0, 0, 0, 0]})
    machine = pd.DataFrame({"doc_id": ["A", "B"], "segment_id": ["a0", "b0"], "code": ["Sleep", "Sleep"]})
    gold = pd.DataFrame({"doc_id": ["A"], "start": [0], "end": [9], "code": ["Sleep"], "coder": ["K"]})
    table = theme_code_shares(segment_themes, None, machine, gold, segments)
    share = table.set_index("source")["share_of_theme"]
    assert share["gold"] == 0.5 and share["machine"] == 0.5
