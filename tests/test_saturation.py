"""Saturation (issue #17): new items per added transcript and the Guest et al. (2020) rule."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from psythemes.errors import InputError, PsythemesWarning
from psythemes.saturation import interview_order, run_saturation, saturation, saturation_section, saturation_table


def _items(rows):
    return pd.DataFrame(rows, columns=["doc_id", "item"])


def test_counts_new_items_in_interview_order_and_applies_the_rule():
    # base d1..d4 holds 10 distinct codes; d5 brings 1 new (10 %), d6 none, d7 none
    rows = [(f"d{k}", f"c{i}") for k, codes in ((1, range(0, 4)), (2, range(3, 7)), (3, range(6, 9)), (4, range(9, 10)),
                                                (5, range(0, 11)), (6, range(2, 5)), (7, range(1, 3)))
            for i in codes]
    order = [f"d{k}" for k in range(1, 8)]
    res = saturation(_items(rows), order=order, kind="codes")
    assert list(res.curve["new_mean"]) == [4, 3, 2, 1, 1, 0, 0]
    assert list(res.curve["cumulative_mean"]) == [4, 7, 9, 10, 11, 11, 11]
    # run d5-d6: 1 new / 10 in base = 10 % > 5 %; run d6-d7: 0 % -> saturation after 7 transcripts
    assert res.saturation_at == [7]
    assert "after 7 of 7 transcripts (at d7)" in res.summary()
    # the ratio of each run, where one ends: 1/10 for d5-d6, 0/10 for d6-d7
    assert res.curve["run_new_share"].tolist()[5:] == [0.1, 0.0] and res.curve["run_new_share"][:5].isna().all()
    loose = saturation(_items(rows), order=order, threshold=0.10)
    assert loose.saturation_at == [6]
    table = saturation_table([res, loose])
    assert table.loc[table["saturated"], ["kind", "n", "doc_id"]].values.tolist() == [["codes", 7, "d7"],
                                                                                      ["codes", 6, "d6"]]
    # an order that names a transcript twice or one not among docs: said, not counted
    with pytest.raises(InputError, match="names 'd1' more than once"):
        saturation(_items(rows), order=[*order, "d1"])
    with pytest.raises(InputError, match="not among docs"):
        saturation(_items(rows), docs=order, order=[*order, "d9"])
    with pytest.raises(InputError, match="whole numbers"):
        saturation(_items(rows), order=order, base_size=2.5)


def test_random_orders_give_a_band_and_docs_without_items_count():
    rows = [("a", "x"), ("b", "x"), ("b", "y"), ("c", "z")]
    res = saturation(_items(rows), docs=["a", "b", "c", "d", "e", "f", "g"], n_orders=50, base_size=2, run_length=2)
    assert not res.ordered and len(res.saturation_at) == 50
    assert (res.curve["new_low"] <= res.curve["new_mean"]).all()
    assert (res.curve["new_mean"] <= res.curve["new_high"]).all()
    assert res.curve["cumulative_mean"].iloc[-1] == 3


def test_interview_order_from_metadata():
    meta = pd.DataFrame({"doc_id": ["b", "a", "c"], "interview_date": ["2024-03-01", "2024-01-15", "2024-02-01"]})
    assert interview_order(meta, ["a", "b", "c"]) == ["a", "c", "b"]
    with pytest.warns(PsythemesWarning, match=r"not a date for 1 transcript\(s\): z \(empty\); saturation uses "
                                              "random orders"):
        assert interview_order(meta, ["a", "b", "c", "z"]) is None  # not known for every transcript
    assert interview_order(pd.DataFrame({"doc_id": ["a"], "wave": [1]}), ["a"]) is None


@pytest.mark.parametrize("dates, order, guessed", [
    # 3 April, 2 April, 1 May: day first, as written in most of the world (was read month first)
    (["03/04/2021", "02/04/2021", "01/05/2021"], ["b", "a", "c"], True),
    (["13.04.2021", "02.04.2021", "01.05.2021"], ["b", "a", "c"], False),  # a day over 12 tells
    (["04/13/2021", "04/02/2021", "05/01/2021"], ["b", "a", "c"], False),  # a month position over 12 tells
    (["14 March 2022", "2 March 2022", "1 April 2022"], ["b", "a", "c"], False),
])
def test_interview_dates_day_first_unless_they_say_otherwise(dates, order, guessed):
    meta = pd.DataFrame({"doc_id": ["a", "b", "c"], "Interview date": dates})  # the header as typed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert interview_order(meta, ["a", "b", "c"]) == order
    assert any("could be day or month first; read day first" in str(w.message) for w in caught) == guessed


def test_interview_order_says_why_it_gave_none_and_how_it_broke_ties():
    meta = pd.DataFrame({"doc_id": ["a", "b", "c"], "interview_date": ["2021-04-13", "2021-04-02", "ask Sam"]})
    with pytest.warns(PsythemesWarning, match=r"'interview_date' gives no interview order: not a date for 1 "
                                              r"transcript\(s\): c; saturation uses random orders"):
        assert interview_order(meta, ["a", "b", "c"]) is None  # the cell's words only with PSYTHEMES_VERBOSE
    # ISO dates beside day-first ones (an Excel column of dates and typed text): each read as written
    mixed = pd.DataFrame({"doc_id": ["a", "b", "c"], "interview_date": ["2022-03-04", "14/03/2022",
                                                                        "2022-03-10 00:00:00"]})
    assert interview_order(mixed, ["a", "b", "c"]) == ["a", "c", "b"]
    tied = pd.DataFrame({"doc_id": ["a", "b", "c"], "interview_order": [2, 2, 1]})
    with pytest.warns(PsythemesWarning, match="2 transcripts share a value with another .*ordered by doc_id"):
        assert interview_order(tied, ["a", "b", "c"]) == ["c", "a", "b"]


def test_bad_arguments():
    with pytest.raises(InputError):
        saturation(_items([("a", "x")]), base_size=0)
    with pytest.raises(InputError, match="lacks"):
        saturation(_items([("a", "x"), ("b", "y")]), order=["a"])


def test_run_saturation_and_report_section():
    segs = pd.DataFrame({"doc_id": ["a", "a", "b", "c", "d", "e", "f"],
                         "segment_id": [f"s{i}" for i in range(7)]})
    codes = pd.DataFrame({"doc_id": ["a", "b", "c"], "code": ["x", "y", ""]})
    st = pd.DataFrame({"segment_id": [f"s{i}" for i in range(7)], "theme_id": [0, 1, 0, -1, 2, 0, 1]})
    results = run_saturation(segs, codes, st, random_state=0)
    assert [r.kind for r in results] == ["codes (machine)", "themes"]
    assert results[1].n_items == 3  # the outlier "theme" -1 is not a theme
    anchor, title, body = saturation_section(results)
    assert anchor == "saturation" and "data:image/png;base64," in body and "Guest, Namey &amp; Chen (2020" in body


def test_plot_survives_a_mean_outside_its_band():
    # one transcript of 61 brings five items, the others one each: in the few orders that start
    # with it, position 1 has 5 new items, so the mean there lies above the 97.5th percentile
    rows = [(f"d{i}", "x") for i in range(60)] + [("z", c) for c in "abcde"]
    res = saturation(_items(rows), n_orders=100, random_state=3)
    assert (res.curve["new_mean"] > res.curve["new_high"]).any()
    anchor, _, body = saturation_section([res])
    assert "data:image/png;base64," in body


def test_section_plot_is_cached(tmp_path, monkeypatch):
    import psythemes.saturation as sat

    res = [saturation(_items([("a", "x"), ("b", "y")]), order=["a", "b"], base_size=1, run_length=1)]
    first = saturation_section(res, cache_dir=tmp_path)
    monkeypatch.setattr(sat, "plot_saturation", lambda r: (_ for _ in ()).throw(AssertionError("drawn again")))
    assert saturation_section(res, cache_dir=tmp_path) == first


def test_the_saturation_plot_can_be_drawn_elsewhere(tmp_path):
    from psythemes.report import saturation_section
    from psythemes.saturation import saturation

    res = [saturation(pd.DataFrame({"doc_id": ["a", "b", "c"], "item": ["x", "y", "x"]}), n_orders=5)]
    calls = []

    def run(function, *args):  # what DaskRunner.run_on_worker does, in this process
        calls.append(function.__name__)
        return function(*args)

    assert saturation_section(res, run=run) == saturation_section(res)
    assert calls == ["plot_saturation"]
    cached = saturation_section(res, cache_dir=tmp_path, run=run)
    assert cached == saturation_section(res) and calls == ["plot_saturation"] * 2


def test_theme_saturation_same_whether_segment_themes_follow_the_segments_or_not():
    segments = pd.DataFrame({"segment_id": [f"s{i}" for i in range(8)], "doc_id": list("aabbccdd")})
    themes = pd.DataFrame({"segment_id": segments["segment_id"], "theme_id": [0, 1, -1, 1, 2, 0, 2, 3]})
    aligned = run_saturation(segments, None, themes)
    shuffled = run_saturation(segments, None, themes.iloc[[5, 1, 7, 0, 2, 4, 6, 3]])
    partial = run_saturation(segments, None, themes.iloc[[0, 1, 3]])  # not every segment: looked up by id
    assert aligned[0].curve.equals(shuffled[0].curve) and aligned[0].n_items == shuffled[0].n_items == 4
    assert partial[0].n_items == 2


def test_gold_saturation_counts_only_the_coded_transcripts():
    """Gold for 3 of 9 transcripts: the 6 nobody coded must not count as "no new code" (that would
    fake saturation); the curve runs over the coded ones only."""
    segs = pd.DataFrame({"doc_id": [f"d{i}" for i in range(9)], "segment_id": [f"s{i}" for i in range(9)]})
    gold = pd.DataFrame({"doc_id": ["d0", "d1", "d1", "d2"], "code": ["x", "y", "z", "w"]})
    (result,) = run_saturation(segs, None, None, gold=gold, random_state=0)
    assert result.kind == "codes (gold)" and len(result.curve) == 3 and result.n_items == 4
    assert all(at is None for at in result.saturation_at)  # 3 transcripts cannot meet a 4 + 2 rule
    assert "of 3 transcripts" in result.summary()
