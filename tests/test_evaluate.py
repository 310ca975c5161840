"""Alignment of gold spans to segments, machine-vs-gold evaluation and its output files.

Expected values below are worked out by hand from tests/data/agreement/{segments,codes,gold}.csv:

unit        machine         coder A         coder B         majority of A, B (= intersection)
d1:0-20     awareness       awareness       awareness       awareness
d1:20-50    alliance        alliance        alliance        alliance
d1:50-80    awareness .95   alternation     -               -
d1:80-100   -               -               alliance        -
d2:0-30     common_ground   common_ground   common_ground   common_ground
d2:30-60    alliance .60    common_ground   -               -
d2:60-90    -               -               awareness       -
"""

from __future__ import annotations

import json
import math
import warnings

import pandas as pd
import pytest

from psythemes import evaluate as ev
from psythemes.errors import InputError, PsythemesWarning
from psythemes.schema import CODE_COLUMNS, GOLD_COLUMNS

CODES = ["alliance", "alternation", "awareness", "common_ground"]


@pytest.fixture()
def tables(data_dir):
    folder = data_dir / "agreement"
    with pytest.warns(PsythemesWarning, match="1 duplicate gold row"):
        gold = ev.load_gold(folder / "gold.csv", codes=CODES)
    return gold, ev.load_codes(folder / "codes.csv", codes=CODES), ev.load_segments(folder / "segments.csv")


def _evaluate(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ev.evaluate(*args, n_boot=200, **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, PsythemesWarning)]


# ---------------------------------------------------------------- alignment rule


def test_overlap_rule_span_or_segment_share():
    segments = pd.DataFrame({"doc_id": ["d"] * 3, "segment_id": ["s0", "s1", "s2"],
                             "start": [0, 10, 20], "end": [10, 20, 100]})
    gold = pd.DataFrame({"doc_id": ["d"] * 3, "start": [2, 5, 8], "end": [8, 15, 30],
                         "code": ["inside", "straddle", "long"], "coder": ["A"] * 3})
    aligned, unaligned = ev.align_gold(gold, segments, overlap=0.5)
    hits = set(map(tuple, aligned[["segment_id", "code"]].to_numpy()))
    # inside one segment -> that segment; 50/50 straddle -> both; [8, 30) covers all of s1 only
    assert hits == {("s0", "inside"), ("s0", "straddle"), ("s1", "straddle"), ("s1", "long")}
    assert sum(unaligned.values()) == 0
    # a lower threshold lets [8, 30) also code s2 (10 of its 22 characters lie there)
    aligned, _ = ev.align_gold(gold, segments, overlap=0.4)
    assert ("s2", "long") in set(map(tuple, aligned[["segment_id", "code"]].to_numpy()))


def test_unaligned_spans_are_counted_by_reason():
    segments = pd.DataFrame({"doc_id": ["d", "d"], "segment_id": ["s0", "s1"], "start": [0, 20], "end": [10, 30]})
    gold = pd.DataFrame({"doc_id": ["d", "d", "d", "x"], "start": [12, 9, 40, 0], "end": [18, 19, 50, 5],
                         "code": ["c"] * 4, "coder": ["A"] * 4})
    aligned, unaligned = ev.align_gold(gold, segments)
    assert aligned.empty
    assert unaligned == {"unknown_doc": 1, "beyond_last_segment": 1, "between_segments": 1, "below_overlap": 1}
    with pytest.raises(InputError, match="overlap"):
        ev.align_gold(gold, segments, overlap=0)
    # the warning says where a span "between segments" usually sits: on words that are no unit
    codes = pd.DataFrame({"doc_id": ["d"], "segment_id": ["s0"], "start": [0], "end": [10], "code": ["c"],
                          "score": [0.9]})
    _, warned = _evaluate(codes, gold, segments)
    assert any("between units (on a speaker label or a turn set aside, e.g. a backchannel): 1" in w for w in warned)


# ---------------------------------------------------------------- evaluation


def test_evaluate_fixture_by_hand(tables):
    gold, codes, segments = tables
    result, warned = _evaluate(codes, gold, segments)
    s = result.summary
    assert (s["n_units"], s["n_docs"], s["n_units_without_gold"]) == (7, 2, 1)
    assert s["n_gold_spans"] == 11 and s["n_gold_spans_aligned"] == 9
    assert s["gold_spans_unaligned"]["unknown_doc"] == 1 and s["gold_spans_unaligned"]["beyond_last_segment"] == 1
    assert s["n_machine_rows_unknown_segment"] == 1
    assert s["coders"] == ["A", "B"] and s["consensus"] == "majority"
    assert (s["micro_precision"], s["micro_recall"], s["micro_f1"]) == pytest.approx((0.6, 1.0, 0.75))
    assert s["exact_match"] == pytest.approx(5 / 7)
    # every problem is a counted warning
    assert any("2 of 11 gold span(s) code no unit" in w for w in warned)
    assert any("1 machine code row(s) name a segment" in w for w in warned)
    assert any("1 unit(s) lie in documents without any gold code" in w for w in warned)

    per = result.per_code.set_index("code")
    assert list(per.index) == CODES
    assert per.loc["awareness", "precision"] == 0.5 and per.loc["awareness", "recall"] == 1.0
    assert per.loc["common_ground", "kappa"] == pytest.approx(1.0)
    assert per.loc["awareness", "prevalence"] == pytest.approx(1 / 7)
    assert per.loc["awareness", "machine_rate"] == pytest.approx(2 / 7)
    # awareness: tp 1, fp 1, tn 5 -> kappa = (6/7 - 32/49) / (1 - 32/49) = 10/17
    assert per.loc["awareness", "kappa"] == pytest.approx(10 / 17)
    aware = per.loc["awareness"]
    assert aware["kappa_ci_low"] <= aware["kappa"] <= aware["kappa_ci_high"]
    # alternation: nobody in the consensus, machine never -> kappa undefined, AC1 = 1 (kappa paradox)
    assert math.isnan(per.loc["alternation", "kappa"]) and per.loc["alternation", "ac1"] == 1.0
    # human-human next to machine-human: A and B on awareness agree on 6 of 7 units, 10/17 again
    assert per.loc["awareness", "human_kappa"] == pytest.approx(10 / 17)


def test_disagreements_most_confident_errors_first(tables):
    gold, codes, segments = tables
    result, _ = _evaluate(codes, gold, segments)
    d = result.disagreements
    assert list(d["segment_id"]) == ["d1:50-80", "d2:30-60"]
    assert list(d["max_error_score"]) == [0.95, 0.6]
    assert d.loc[0, "false_positives"] == "awareness" and d.loc[0, "gold_codes"] == ""
    assert d.loc[0, "text"] == "first tense then relaxed again"
    # each coder's codes beside the reference, so a reader sees why it has a code or not
    assert [c for c in d.columns if c.startswith("coder:")] == ["coder:A", "coder:B"]
    assert (d.loc[0, "coder:A"], d.loc[0, "coder:B"]) == ("alternation", "")  # no majority for it


def test_confusion_counts(tables):
    gold, codes, segments = tables
    result, _ = _evaluate(codes, gold, segments)
    conf = result.confusion.set_index("gold")
    assert conf.loc["awareness", "machine:awareness"] == 1
    assert conf.loc[ev.NO_CODE, "machine:awareness"] == 1
    assert conf.loc[ev.NO_CODE, "machine:alliance"] == 1
    assert conf.loc[ev.NO_CODE, f"machine:{ev.NO_CODE}"] == 2
    assert conf.to_numpy().sum() == 7  # one cell per unit here (no unit has 2+ codes)


def test_human_baseline_has_all_comparisons(tables):
    gold, codes, segments = tables
    result, _ = _evaluate(codes, gold, segments)
    base = result.human_baseline
    assert set(base["comparison"]) == {"human-human", "machine-vs-A", "machine-vs-B", "machine-vs-consensus"}
    masi = base[base["code"].str.startswith("(all codes")].set_index("comparison")["alpha"]
    assert masi["machine-vs-consensus"] == pytest.approx(result.summary["alpha_masi"])
    assert masi["human-human"] == pytest.approx(result.summary["human_alpha_masi"])
    # machine vs B on alliance: machine {d1:20-50, d2:30-60}, B {d1:20-50, d1:80-100}
    row = base[(base["comparison"] == "machine-vs-B") & (base["code"] == "alliance")].iloc[0]
    assert row["percent"] == pytest.approx(5 / 7)


def test_human_human_agreement_is_on_units_two_coders_coded():
    # three coders, a fourth document coded by one of them alone: it moved Fleiss' kappa of the
    # other documents' units (0.603 -> 0.571 in a stranger's study), as Gwet's chance term counts it
    def units(n_docs):
        return pd.DataFrame({"doc_id": [f"d{i // 4}" for i in range(4 * n_docs)],
                             "segment_id": [f"d{i // 4}:{i}" for i in range(4 * n_docs)],
                             "start": [10 * (i % 4) for i in range(4 * n_docs)],
                             "end": [10 * (i % 4) + 9 for i in range(4 * n_docs)], "text": ["x"] * (4 * n_docs)})

    rows = [("d0", 0, "a", c) for c in "ABC"] + [("d0", 10, "a", "A"), ("d0", 10, "a", "B"), ("d0", 20, "a", "C"),
            ("d1", 0, "a", "A"), ("d1", 0, "a", "C"), ("d1", 30, "a", "B"), ("d1", 30, "a", "C")]
    shared = pd.DataFrame([(d, s, s + 9, code, coder) for d, s, code, coder in rows],
                          columns=["doc_id", "start", "end", "code", "coder"])
    alone = pd.concat([shared, pd.DataFrame([("d2", s, s + 9, "a", "A") for s in (0, 10, 20, 30)],
                                            columns=shared.columns)], ignore_index=True)
    machine = pd.DataFrame(columns=["doc_id", "segment_id", "start", "end", "code", "score", "method"])
    two, _ = _evaluate(machine, shared, units(2), codes=["a"])
    three, _ = _evaluate(machine, alone, units(3), codes=["a"])
    human = {name: r.human_baseline.set_index(["comparison", "code"]).loc[("human-human", "a")]
             for name, r in (("two", two), ("three", three))}
    assert human["three"]["n_units"] == human["two"]["n_units"] == 8
    assert human["three"]["kappa"] == pytest.approx(human["two"]["kappa"])


def test_documents_without_gold_count_when_every_document_was_coded(tables):
    # open-ended answers, one per document, most without a code: the documents where the coder
    # found nothing were left out, and the machine's codes there were never counted as errors
    gold, codes, segments = tables
    default, warned = _evaluate(codes, gold, segments)
    assert default.summary["n_units_without_gold"] == 1 and default.summary["documents"] == "gold"
    assert any("--all-documents-coded" in w for w in warned)
    every, _ = _evaluate(codes, gold, segments, documents="all")
    assert every.summary["n_units"] == default.summary["n_units"] + 1 and every.summary["n_units_without_gold"] == 0
    added = every.units[~every.units["segment_id"].isin(default.units["segment_id"])]
    assert added["gold"].tolist() == [""] and added["coded_by"].tolist() == ["A;B"]
    with pytest.raises(InputError, match="documents must be"):
        ev.evaluate(codes, gold, segments, documents="some")


def test_union_consensus_changes_reference(tables):
    gold, codes, segments = tables
    result, _ = _evaluate(codes, gold, segments, consensus="union")
    per = result.per_code.set_index("code")
    assert (per.loc["alliance", "tp"], per.loc["alliance", "fp"], per.loc["alliance", "fn"]) == (1, 1, 1)
    assert per.loc["common_ground", "recall"] == 0.5
    assert per.loc["alternation", "recall"] == 0.0
    with pytest.raises(InputError, match="consensus"):
        ev.evaluate(codes, gold, segments, consensus="vote")


def test_units_from_machine_codes_without_segments(tables):
    gold, codes, segments = tables
    with_segments, _ = _evaluate(codes, gold, segments)
    without, _ = _evaluate(codes, gold, None)
    assert without.summary["units_source"] == "machine codes"
    assert without.summary["n_units"] == 7 and without.summary["n_units_without_gold"] == 2
    pd.testing.assert_series_equal(without.per_code["f1"], with_segments.per_code["f1"])


def test_single_coder_has_no_human_baseline(tables):
    gold, codes, segments = tables
    only_a = gold[gold["coder"] == "A"].drop(columns=["coder"])
    result, _ = _evaluate(codes, only_a, segments)
    assert result.human_baseline is None
    assert result.summary["coders"] == [ev.DEFAULT_CODER] and result.summary["consensus"] == "single coder"
    assert "human_kappa" not in result.per_code.columns


def test_codes_outside_the_list_are_ignored_and_counted(tables):
    gold, codes, segments = tables
    result, warned = _evaluate(codes, gold, segments, codes=["awareness", "alliance"])
    assert list(result.per_code["code"]) == ["awareness", "alliance"]
    assert result.summary["n_code_rows_ignored"] > 0
    assert any("outside the evaluated code list" in w for w in warned)


def test_no_matching_documents_is_an_input_error(tables):
    gold, codes, segments = tables
    other = gold.assign(doc_id="elsewhere")
    with pytest.raises(InputError, match="doc_id"):
        _evaluate(codes, other, segments)


def test_a_gold_code_the_machine_never_uses_is_named_with_the_closest_machine_code(tables):
    """No code list: a misspelt gold code would be scored as a code the machine never assigns."""
    gold, codes, segments = tables
    typo = gold.assign(code=gold["code"].replace({"alliance": "aliance"}))
    result, warned = _evaluate(codes, typo, segments)
    [message] = [w for w in warned if "never occur among the machine codes" in w]
    assert message.startswith("2 gold code(s) never occur among the machine codes: 'aliance' (did you mean "
                               "'alliance'?), 'alternation'")
    assert "Machine codes that no gold row uses: 'alliance'" in message
    assert "aliance" in set(result.per_code["code"])  # scored as given: evaluate has no codebook to reject it
    _, with_list = _evaluate(codes, gold, segments, codes=CODES)  # a code list: every name is checked elsewhere
    assert not any("never occur among the machine codes" in w for w in with_list)
    _, matching = _evaluate(codes, gold[gold["code"] != "alternation"], segments)
    assert not any("never occur among the machine codes" in w for w in matching)


def test_gold_labels_spelt_otherwise_are_matched_and_named(tables):
    gold, codes, segments = tables
    shouted = gold.assign(code=gold["code"].replace({"alliance": "ALLIANCE", "common_ground": "Common Ground"}))
    result, warned = _evaluate(codes, shouted, segments)
    expected, _ = _evaluate(codes, gold, segments)
    pd.testing.assert_frame_equal(result.per_code, expected.per_code)
    [message] = [w for w in warned if "spelt otherwise" in w]
    assert message.startswith("gold.csv: 2 gold code label(s) are spelt otherwise than the code they were matched to")
    assert "gold 'ALLIANCE' taken as code 'alliance'" in message
    assert "gold 'Common Ground' taken as code 'common_ground'" in message
    _, plain = _evaluate(codes, gold, segments)
    assert not any("spelt otherwise" in w for w in plain)


# ---------------------------------------------------------------- loading and validation


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_gold_validation(tmp_path):
    with pytest.raises(InputError, match="lacks column"):
        ev.load_gold(_write(tmp_path, "g1.csv", "doc_id,start,code\nd,0,a\n"))
    with pytest.raises(InputError, match="g2.csv:3: .*empty or negative"):
        ev.load_gold(_write(tmp_path, "g2.csv", "doc_id,start,end,code\nd,0,5,a\nd,9,4,a\n"))
    with pytest.raises(InputError, match="g3.csv:2: .*whole number"):
        ev.load_gold(_write(tmp_path, "g3.csv", "doc_id,start,end,code\nd,x,5,a\n"))
    message = "g4.csv:3: gold code 'alience' is not in the codebook \\(did you mean 'alliance'\\?\\)"
    with pytest.raises(InputError, match=message):
        ev.load_gold(_write(tmp_path, "g4.csv", "doc_id,start,end,code\nd,0,5,alliance\nd,5,9,alience\n"),
                     codes=CODES)
    with pytest.raises(InputError, match="no rows"):
        ev.load_gold(_write(tmp_path, "g5.csv", "doc_id,start,end,code,coder\n"))
    with pytest.raises(InputError, match="not found"):
        ev.load_gold(tmp_path / "missing.csv")


def test_load_gold_text_lengths(tmp_path):
    path = _write(tmp_path, "g.csv", "doc_id,start,end,code\nd,0,5,a\nd,8,30,a\nq,0,3,a\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gold = ev.load_gold(path, text_lengths={"d": 20})
    messages = [str(w.message) for w in caught]
    assert any("1 gold span(s) end beyond" in m for m in messages)
    assert any("1 gold span(s) name a document" in m for m in messages)
    assert len(gold) == 2 and list(gold.columns) == GOLD_COLUMNS
    assert (gold["coder"] == ev.DEFAULT_CODER).all()


def test_load_codes_duplicates_and_empty(tmp_path):
    path = _write(tmp_path, "c.csv", "doc_id,segment_id,code,score\nd,s1,a,0.2\nd,s1,a,0.9\nd,s2,b,0.5\n")
    with pytest.warns(PsythemesWarning, match="1 duplicate machine code"):
        codes = ev.load_codes(path)
    assert list(codes.columns) == [*CODE_COLUMNS, "evidence"]  # one set of columns whichever route wrote codes.csv
    assert codes.loc[codes["segment_id"] == "s1", "score"].tolist() == [0.9]
    with pytest.warns(PsythemesWarning, match="no rows"):
        assert ev.load_codes(_write(tmp_path, "e.csv", "doc_id,segment_id,code\n")).empty
    with pytest.raises(InputError, match="bad.csv:3: .*start must be a whole number"):
        ev.load_codes(_write(tmp_path, "bad.csv", "doc_id,segment_id,start,end,code\nd,s1,,,a\nd,s2,x,4,a\n"))
    with pytest.raises(InputError, match="start and end"):
        ev.evaluate(codes, pd.DataFrame({"doc_id": ["d"], "start": [0], "end": [3], "code": ["a"]}), None)


def test_write_evaluation_files(tables, tmp_path):
    gold, codes, segments = tables
    result, _ = _evaluate(codes, gold, segments)
    paths = ev.write_evaluation(result, tmp_path / "out")
    names = {p.name for p in paths.values()}
    assert names == {"agreement.json", "agreement.csv", "confusion.csv", "disagreements.csv", "units.csv",
                     "human_baseline.csv"}
    doc = json.loads((tmp_path / "out" / "agreement.json").read_text(encoding="utf-8"))
    assert doc["summary"]["n_units"] == 7
    alternation = next(r for r in doc["per_code"] if r["code"] == "alternation")
    assert alternation["kappa"] is None  # NaN -> null
    table = pd.read_csv(tmp_path / "out" / "agreement.csv")
    assert {"prevalence", "kappa", "kappa_ci_low", "alpha", "ac1", "precision", "recall", "f1"} <= set(table.columns)
    assert len(pd.read_csv(tmp_path / "out" / "disagreements.csv")) == 2


def test_units_say_which_coders_coded_each_document(tables):
    gold, codes, segments = tables
    only_a_on_d2 = gold[~((gold["coder"] == "B") & (gold["doc_id"] == "d2"))]
    result, _ = _evaluate(codes, only_a_on_d2, segments)
    units = result.units
    assert set(units.loc[units["doc_id"] == "d1", "coded_by"]) == {"A;B"}
    d2 = units[units["doc_id"] == "d2"]
    assert set(d2["coded_by"]) == {"A"} and set(d2["coder:B"]) == {""}  # not coded, not "no code"


# ---------------------------------------------------------------- roles the gold codes


def _role_tables():
    # four therapist and four client turns; the humans coded therapist turns only
    segments = pd.DataFrame({"doc_id": ["d"] * 8, "segment_id": [f"s{i}" for i in range(8)],
                             "start": [10 * i for i in range(8)], "end": [10 * i + 9 for i in range(8)],
                             "role": ["therapist", "client"] * 4, "text": ["words"] * 8})
    gold = pd.DataFrame({"doc_id": ["d"] * 4, "start": [0, 20, 40, 60], "end": [9, 29, 49, 69],
                         "code": ["question", "reflection", "question", "reflection"], "coder": ["A"] * 4})
    # the machine gives every turn a code, the client turns included (single-label zero-shot)
    machine = pd.DataFrame({"doc_id": ["d"] * 8, "segment_id": [f"s{i}" for i in range(8)],
                            "start": [10 * i for i in range(8)], "end": [10 * i + 9 for i in range(8)],
                            "code": ["question", "question", "reflection", "reflection"] * 2,
                            "score": [0.9] * 8, "method": ["zero-shot"] * 8})
    return machine, gold, segments


def test_only_the_roles_the_gold_codes_are_evaluated_and_the_user_is_told():
    machine, gold, segments = _role_tables()
    result, messages = _evaluate(machine, gold, segments, codes=["question", "reflection"])
    assert result.summary["n_units"] == 4 and result.summary["roles_evaluated"] == ["therapist"]
    assert any("the gold codes only therapist segments" in m and "4 units of client are not evaluated" in m
               for m in messages)
    # the therapist turns s0, s2, s4, s6: machine and gold both say question, reflection, question, reflection
    assert result.per_code.set_index("code")["kappa"].tolist() == [1.0, 1.0]


def test_every_role_is_evaluated_when_asked_or_when_the_gold_codes_every_role():
    machine, gold, segments = _role_tables()
    everything, _ = _evaluate(machine, gold, segments, codes=["question", "reflection"], roles=None)
    assert everything.summary["n_units"] == 8 and everything.summary["roles_evaluated"] is None
    assert everything.per_code["kappa"].max() < 1.0  # the client turns' codes count as false positives
    named, _ = _evaluate(machine, gold, segments, codes=["question", "reflection"], roles=["Therapist"])
    assert named.summary["n_units"] == 4 and named.summary["roles_evaluated"] == ["Therapist"]
    both = pd.concat([gold, gold.assign(start=gold["start"] + 10, end=gold["end"] + 10)], ignore_index=True)
    mixed, messages = _evaluate(machine, both, segments, codes=["question", "reflection"])
    assert mixed.summary["n_units"] == 8 and not any("gold codes only" in m for m in messages)


def test_uncoded_interviewer_turns_are_not_units_where_roles_cannot_decide():
    # segment -> map -> evaluate without metadata: participants have no role, so the gold's roles
    # could not tell the frame, and 50 interviewer turns counted as agreed "no code" units (98
    # units, mean kappa 0.409 against extract's 48 units and 0.373 on the same codes)
    segments = pd.DataFrame({"doc_id": ["d"] * 5, "segment_id": [f"s{i}" for i in range(5)],
                             "start": [10 * i for i in range(5)], "end": [10 * i + 9 for i in range(5)],
                             "text": ["How are you?", "I felt heard", "And work?", "my back hurt", "Why?"],
                             "role": ["interviewer", "", "Interviewer", "", "interviewer"],
                             "kind": ["interviewer", "content", "interviewer", "content", "interviewer"]})
    gold = pd.DataFrame({"doc_id": ["d"] * 3, "start": [10, 30, 40], "end": [19, 39, 49],
                         "code": ["alliance", "awareness", "awareness"], "coder": ["A"] * 3})
    machine = pd.DataFrame({"doc_id": ["d"] * 2, "segment_id": ["s1", "s3"], "start": [10, 30], "end": [19, 39],
                            "code": ["alliance", "awareness"], "score": [0.9, 0.8], "method": ["zero-shot"] * 2})
    result, messages = _evaluate(machine, gold, segments, codes=["alliance", "awareness"])
    # the gold codes an interviewer turn (s4): the coders code interviewer turns, and all are units
    assert set(result.units["segment_id"]) == {"s0", "s1", "s2", "s3", "s4"}
    assert any("1 interviewer turn(s) carry gold codes: every interviewer turn is evaluated" in m for m in messages)
    # the gold codes none: the interviewer turns nobody coded are set aside
    uncoded, messages = _evaluate(machine, gold.iloc[:2], segments, codes=["alliance", "awareness"])
    assert set(uncoded.units["segment_id"]) == {"s1", "s3"}
    assert any("3 interviewer turn(s) that neither the machine nor the gold codes" in m for m in messages)
    everything, _ = _evaluate(machine, gold, segments, codes=["alliance", "awareness"], roles=None)
    assert everything.summary["n_units"] == 5


# ---------------------------------------------------------------- backchannels


def test_uncoded_backchannels_of_a_segment_table_are_not_units_as_in_extract():
    # `psythemes segment` keeps "Mm-hmm" rows (kind=backchannel); map and extract leave them uncoded,
    # so counting them would add agreed "no code" units that extract's own evaluation never has
    segments = pd.DataFrame({"doc_id": ["d"] * 6, "segment_id": [f"s{i}" for i in range(6)],
                             "start": [10 * i for i in range(6)], "end": [10 * i + 9 for i in range(6)],
                             "text": ["I felt heard", "Mm-hmm.", "my back hurt", "Yeah.", "Yeah.", "we agreed"],
                             "kind": ["content", "backchannel", "content", "backchannel", "backchannel",
                                      "content"]})
    gold = pd.DataFrame({"doc_id": ["d"] * 3, "start": [0, 20, 30], "end": [9, 29, 39],
                         "code": ["alliance", "awareness", "alliance"], "coder": ["A"] * 3})
    machine = pd.DataFrame({"doc_id": ["d"] * 2, "segment_id": ["s0", "s2"], "start": [0, 20], "end": [9, 29],
                            "code": ["alliance", "awareness"], "score": [0.9, 0.8], "method": ["zero-shot"] * 2})
    result, messages = _evaluate(machine, gold, segments, codes=["alliance", "awareness"])
    # s1 and s4: backchannels nobody coded, set aside; s3 is gold-coded, so it stays (a machine miss)
    assert result.summary["n_units"] == 4
    assert set(result.units["segment_id"]) == {"s0", "s2", "s3", "s5"}
    assert any("2 backchannel unit(s) that neither the machine nor the gold codes" in m for m in messages)
    # without a kind column (extract's segments.csv holds no backchannels) every unit counts
    plain, plain_messages = _evaluate(machine, gold, segments.drop(columns="kind"), codes=["alliance", "awareness"])
    assert plain.summary["n_units"] == 6 and not any("backchannel" in m for m in plain_messages)
    # codes from `map --keep-backchannels`: the machine saw them and coded none, so they count
    kept, kept_messages = _evaluate(machine, gold, segments, codes=["alliance", "awareness"], backchannels="keep")
    assert kept.summary["n_units"] == 6 and not any("backchannel" in m for m in kept_messages)
    # nothing but uncoded backchannels: one clear error, not a KeyError from an empty table
    only = segments[segments["kind"] == "backchannel"].iloc[[0, 2]]
    with pytest.raises(InputError, match="no unit left to evaluate"):
        ev.evaluate(machine.iloc[0:0], gold.iloc[[0]], only, codes=["alliance"], n_boot=0)
