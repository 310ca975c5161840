"""Agreement statistics against published worked examples, edge cases and the bootstrap."""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psythemes import agreement as ag
from psythemes.errors import InputError, PsythemesWarning

# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", section C: 4 coders
# (rows A-D) x 12 units, missing values as None.  Published: alpha nominal .743,
# ordinal .815, interval .849, ratio .797.
_KRIPP_CODERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
KRIPPENDORFF_2011 = pd.DataFrame(np.array(_KRIPP_CODERS, dtype=object).T, columns=list("ABCD"))

# Fleiss (1971) Table 1: 30 patients, 6 diagnoses each, 5 categories (depression,
# personality disorder, schizophrenia, neurosis, other); counts per category.
# Published kappa = .430.
FLEISS_1971_COUNTS = np.array([
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
    [0, 0, 5, 0, 1], [3, 0, 0, 1, 2], [5, 1, 0, 0, 0], [0, 2, 0, 4, 0], [1, 0, 2, 0, 3],
    [0, 0, 0, 0, 6], [0, 1, 0, 5, 0], [0, 2, 0, 1, 3], [2, 0, 0, 4, 0], [1, 0, 0, 4, 1],
    [0, 5, 0, 1, 0], [4, 0, 0, 0, 2], [0, 2, 0, 4, 0], [1, 0, 5, 0, 0], [0, 0, 0, 0, 6],
])

# Cohen (1960; the same table opens Cohen 1968): two judges, 200 cases, 3 categories.
# Rows judge A, columns judge B.  Published: p_o = .70, p_c = .41, kappa = .492.
COHEN_TABLE = np.array([[88, 14, 18], [10, 40, 10], [2, 6, 12]])


def _pairs(table: np.ndarray) -> np.ndarray:
    return np.array([(i, j) for i in range(table.shape[0]) for j in range(table.shape[1])
                     for _ in range(table[i, j])])


def _raters_from_counts(counts: np.ndarray) -> np.ndarray:
    return np.array([[c for c, n in enumerate(row) for _ in range(n)] for row in counts])


# ---------------------------------------------------------------- published examples


@pytest.mark.parametrize("level, published", [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797),
])
def test_krippendorff_2011_published_alpha(level, published):
    assert round(ag.krippendorff_alpha(KRIPPENDORFF_2011, level=level), 3) == published


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_own_alpha_formula_equals_krippendorff_package(level):
    # the bootstrap uses our coincidence formula; it must give the package's point estimate
    coded = ag._prepare(KRIPPENDORFF_2011, ordered=level == "ordinal")
    pat = ag._patterns(coded.codes, len(coded.categories))
    own = float(ag._stat_alpha(pat, pat.weight, level, coded.categories))
    assert own == pytest.approx(ag.krippendorff_alpha(KRIPPENDORFF_2011, level=level), abs=1e-12)


def test_gwet_2014_handbook_multirater_with_missing():
    # Gwet (2014) Handbook of Inter-Rater Reliability, 4th ed., pp. 55-56 (with the
    # published errata) analyses Krippendorff's data with letters a-e for 1-5.  Published:
    # percent agreement .8182, Fleiss' kappa (generalised) .7612, AC1 .7754,
    # Brennan-Prediger .7727 (values as transcribed in the tests of the R package
    # jmgirard/agreement, which reproduces that example).
    letters = KRIPPENDORFF_2011.map(lambda v: None if v is None else "abcde"[v - 1])
    assert round(ag.percent_agreement(letters), 4) == 0.8182
    assert round(ag.fleiss_kappa(letters), 4) == 0.7612
    assert round(ag.gwet_ac1(letters), 4) == 0.7754
    assert round(ag.brennan_prediger(letters), 4) == 0.7727
    assert round(ag.krippendorff_alpha(letters), 4) == 0.7434


def test_fleiss_1971_published_kappa():
    ratings = _raters_from_counts(FLEISS_1971_COUNTS)
    assert ratings.shape == (30, 6)
    assert round(ag.fleiss_kappa(ratings), 3) == 0.430
    # our generalised formula (used for missing data and the bootstrap) agrees with statsmodels
    coded = ag._prepare(ratings)
    pat = ag._patterns(coded.codes, 5)
    assert float(ag._stat_fleiss(pat, pat.weight)) == pytest.approx(ag.fleiss_kappa(ratings), abs=1e-12)


def test_cohen_1960_published_kappa():
    pairs = _pairs(COHEN_TABLE)
    assert round(ag.cohen_kappa(pairs), 3) == 0.492


@pytest.mark.parametrize("weights, power", [("linear", 1), ("quadratic", 2)])
def test_weighted_kappa_matches_hand_formula(weights, power):
    # Cohen (1968) weighted kappa with agreement weights 1 - |i-j|^p / (k-1)^p
    # (Cicchetti-Allison for p=1, Fleiss-Cohen for p=2), computed by hand on Cohen's table.
    p = COHEN_TABLE / COHEN_TABLE.sum()
    k = p.shape[0]
    i, j = np.indices(p.shape)
    w = 1 - np.abs(i - j) ** power / (k - 1) ** power
    po = (w * p).sum()
    pe = (w * np.outer(p.sum(1), p.sum(0))).sum()
    expected = (po - pe) / (1 - pe)
    got = ag.cohen_kappa(_pairs(COHEN_TABLE), weights=weights)
    assert got == pytest.approx(expected, abs=1e-12)
    coded = ag._coded_for("cohen", _pairs(COHEN_TABLE), "nominal", None)
    pat = ag._patterns(coded.codes, 3)
    assert float(ag._stat_cohen(pat, pat.weight, weights)) == pytest.approx(expected, abs=1e-12)


def test_cohen_scikit_learn_documented_example():
    # scikit-learn's cohen_kappa_score docstring: 0.6875
    y1 = ["negative", "positive", "negative", "neutral", "positive"]
    y2 = ["negative", "positive", "negative", "neutral", "negative"]
    assert ag.cohen_kappa(np.array([y1, y2], dtype=object).T) == pytest.approx(0.6875)


def test_two_rater_ac1_matches_gwet_2008_formula():
    # Gwet (2008), two raters: pe = 2 * pi * (1 - pi) with pi the mean of the two
    # raters' "+" shares (q = 2).  The multi-rater formulation must reduce to it.
    table = np.array([[118, 5], [2, 0]])
    n = table.sum()
    po = np.trace(table) / n
    pi = (table[0].sum() / n + table[:, 0].sum() / n) / 2
    pe = 2 * pi * (1 - pi)
    ac1 = (po - pe) / (1 - pe)
    got = ag.gwet_ac1(_pairs(table))
    assert got == pytest.approx(ac1, abs=1e-12)
    # the kappa paradox: 94% agreement, kappa below zero, AC1 high
    assert ag.percent_agreement(_pairs(table)) == pytest.approx(0.944)
    assert ag.cohen_kappa(_pairs(table)) < 0 < 0.9 < got


def test_listwise_cohen_and_pairable_alpha_with_missing():
    data = pd.DataFrame({"a": ["x", "y", None, "x", "y"], "b": ["x", "y", "x", None, "x"]})
    complete = data.dropna()
    assert ag.cohen_kappa(data) == pytest.approx(ag.cohen_kappa(complete))
    assert ag.krippendorff_alpha(data) == pytest.approx(ag.krippendorff_alpha(complete))


# ---------------------------------------------------------------- undefined cases


@pytest.mark.parametrize("metric", ag.METRICS)
def test_all_missing_is_nan_with_warning(metric):
    data = pd.DataFrame({"a": [None, None, None], "b": [None, "", None]})
    with pytest.warns(PsythemesWarning, match="undefined"):
        res = ag.agreement(data, metric)
    assert math.isnan(res.value) and math.isnan(res.ci_low) and res.reason


@pytest.mark.parametrize("metric", ["alpha", "cohen", "fleiss", "ac1", "bp"])
def test_single_category_is_nan_with_warning(metric):
    data = [["x", "x"], ["x", "x"], ["x", "x"]]
    with pytest.warns(PsythemesWarning, match="category"):
        assert math.isnan(ag.agreement(data, metric).value)


def test_single_category_percent_agreement_is_one():
    assert ag.percent_agreement([["x", "x"], ["x", "x"]]) == 1.0


@pytest.mark.parametrize("metric", ag.METRICS)
def test_one_coded_unit_is_nan(metric):
    with pytest.warns(PsythemesWarning, match="fewer than 2 units"):
        assert math.isnan(ag.agreement([["x", "y"], ["x", None]], metric).value)


@pytest.mark.parametrize("metric", ag.METRICS)
def test_perfect_agreement_is_one(metric):
    data = [["a", "a"], ["b", "b"], ["c", "c"], ["a", "a"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)
        res = ag.agreement(data, metric, n_boot=200)
    assert res.value == pytest.approx(1.0)
    assert res.ci_low == pytest.approx(1.0) and res.ci_high == pytest.approx(1.0)


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_weights_equal_resampled_data():
    # a replicate is the statistic on resampled units: check the pattern-weight route
    # against recomputing on the explicitly resampled table
    data = KRIPPENDORFF_2011.to_numpy(dtype=object)
    coded = ag._prepare(data)
    pat = ag._patterns(coded.codes, len(coded.categories))
    _, inverse = np.unique(coded.codes, axis=0, return_inverse=True)
    rng = np.random.default_rng(3)
    for _ in range(5):
        idx = rng.integers(0, len(data), len(data))
        w = np.bincount(inverse.ravel()[idx], minlength=len(pat.weight)).astype(float)
        resampled = data[idx]
        for metric, fn in (("alpha", lambda p, w: ag._stat_alpha(p, w, "nominal", coded.categories)),
                           ("fleiss", ag._stat_fleiss), ("percent", ag._stat_percent)):
            direct = ag.agreement(resampled, metric, categories=coded.categories, ci=None, warn=False).value
            assert float(fn(pat, w)) == pytest.approx(direct, abs=1e-12, nan_ok=True)


def test_bootstrap_is_seeded_and_brackets_estimate():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 400)
    b = np.where(rng.random(400) < 0.8, a, rng.integers(0, 3, 400))
    data = np.c_[a, b]
    r1 = ag.agreement(data, "cohen", n_boot=300, random_state=7)
    r2 = ag.agreement(data, "cohen", n_boot=300, random_state=7)
    r3 = ag.agreement(data, "cohen", n_boot=300, random_state=8)
    assert (r1.ci_low, r1.ci_high) == (r2.ci_low, r2.ci_high)
    assert (r1.ci_low, r1.ci_high) != (r3.ci_low, r3.ci_high)
    assert r1.ci_low < r1.value < r1.ci_high
    assert r1.n_boot == 300 and r1.n_units == 400


def test_no_bootstrap_gives_nan_interval():
    res = ag.agreement(KRIPPENDORFF_2011, "alpha", ci=None)
    assert math.isnan(res.ci_low) and res.n_boot == 0


# ---------------------------------------------------------------- multi-label


def test_masi_distance_values():
    assert ag.masi_distance({"a"}, {"a"}) == 0.0
    assert ag.masi_distance(set(), set()) == 0.0
    assert ag.masi_distance({"a"}, {"b"}) == 1.0
    assert ag.masi_distance({"a"}, set()) == 1.0
    assert ag.masi_distance({"a"}, {"a", "b"}) == pytest.approx(1 - 0.5 * 2 / 3)
    assert ag.masi_distance({"a", "b"}, {"b", "c"}) == pytest.approx(1 - (1 / 3) * (1 / 3))


def test_masi_alpha_on_singletons_equals_nominal_alpha():
    singletons = KRIPPENDORFF_2011.map(lambda v: None if v is None else {str(v)})
    res = ag.alpha_masi(singletons, ci=None)
    assert res.value == pytest.approx(0.743, abs=5e-4)
    assert res.value == pytest.approx(ag.krippendorff_alpha(KRIPPENDORFF_2011), abs=1e-12)


def test_masi_alpha_own_formula_equals_krippendorff_package_on_sets():
    data = pd.DataFrame({
        "c1": ["a;b", "a", "", "b;c", "c", "a"],
        "c2": ["a", "a;b", "b", "b;c", "", "a;c"],
        "c3": ["a;b", None, "b", "c", "c", "a"],
    }).map(lambda v: frozenset(x for x in v.split(";") if x) if isinstance(v, str) else None)
    res = ag.alpha_masi(data, ci=None)
    coded = ag._prepare(data)
    pat = ag._patterns(coded.codes, len(coded.categories))
    own = float(ag._stat_alpha(pat, pat.weight, "masi", coded.categories))
    assert res.value == pytest.approx(own, abs=1e-12)
    assert -1 < res.value < 1


def test_per_code_agreement_reports_prevalence_and_kappa_paradox():
    # "rare" is used in 2 of 40 units by coder 1, once (elsewhere) by coder 2: 95% raw
    # agreement, kappa below zero, AC1 high.  "common" agrees perfectly.
    c1 = [{"rare", "common"}, {"rare"}] + [{"common"}] * 19 + [set()] * 19
    c2 = [{"common"}, set(), {"rare", "common"}] + [{"common"}] * 18 + [set()] * 19
    table = pd.DataFrame({"c1": c1, "c2": c2})
    with pytest.warns(PsythemesWarning, match="'never': kappa, alpha undefined"):
        out = ag.per_code_agreement(table, ["rare", "common", "never"], n_boot=200).set_index("code")
    assert out.loc["rare", "prevalence"] == pytest.approx(3 / 80)
    assert out.loc["rare", "percent"] == pytest.approx(37 / 40)
    assert out.loc["rare", "kappa"] < 0.0 < 0.9 < out.loc["rare", "ac1"]
    assert out.loc["common", "kappa"] == pytest.approx(1.0)
    assert math.isnan(out.loc["never", "kappa"]) and out.loc["never", "prevalence"] == 0.0


def test_precision_recall_f1_by_hand():
    pred = [{"a"}, {"a", "b"}, set(), {"b"}]
    gold = [{"a"}, {"b"}, {"a"}, set()]
    per, avg = ag.precision_recall_f1(pred, gold, ["a", "b", "c"])
    per = per.set_index("code")
    assert (per.loc["a", "tp"], per.loc["a", "fp"], per.loc["a", "fn"]) == (1, 1, 1)
    assert per.loc["a", "precision"] == 0.5 and per.loc["a", "recall"] == 0.5
    assert per.loc["b", "precision"] == 0.5 and per.loc["b", "recall"] == 1.0
    assert math.isnan(per.loc["c", "precision"]) and math.isnan(per.loc["c", "recall"])
    assert avg["micro_precision"] == pytest.approx(2 / 4) and avg["micro_recall"] == pytest.approx(2 / 3)
    assert avg["macro_recall"] == pytest.approx(0.75)  # undefined code c left out
    assert avg["exact_match"] == 0.25


# ---------------------------------------------------------------- bad input


def test_bad_options_raise_input_error():
    with pytest.raises(InputError, match="exactly 2 coders"):
        ag.cohen_kappa(KRIPPENDORFF_2011)
    with pytest.raises(InputError, match="unknown metric"):
        ag.agreement(KRIPPENDORFF_2011, "kappa")
    with pytest.raises(InputError, match="order"):
        ag.krippendorff_alpha([["low", "high"], ["mid", "low"]], level="ordinal")
    with pytest.raises(InputError, match="numeric"):
        ag.krippendorff_alpha([["low", "high"], ["mid", "low"]], level="interval")
    with pytest.raises(InputError, match="not among the given categories"):
        ag.gwet_ac1([["a", "b"], ["c", "a"]], categories=["a", "b"])
    with pytest.raises(InputError, match="2-D"):
        ag.percent_agreement([1, 2, 3])


def test_ordinal_with_given_category_order():
    data = [["low", "mid"], ["mid", "mid"], ["high", "high"], ["low", "low"]]
    numeric = [[0, 1], [1, 1], [2, 2], [0, 0]]
    got = ag.krippendorff_alpha(data, level="ordinal", categories=["low", "mid", "high"])
    assert got == pytest.approx(ag.krippendorff_alpha(numeric, level="ordinal"))


# ---------------------------------------------------------------- real data


def _load_benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "annomi_human_agreement.py"
    spec = importlib.util.spec_from_file_location("annomi_human_agreement", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.shared
def test_annomi_human_agreement_recomputed(shared_dir):
    csv_path = shared_dir / "corpora" / "annomi" / "AnnoMI-full.csv"
    if not csv_path.is_file():
        pytest.skip(f"AnnoMI not found at {csv_path}")
    results = _load_benchmark().compute(csv_path, n_boot=100)["labels"]
    # the dataset README's recomputed figures (216 therapist / 212 client utterances, 10 annotators)
    therapist, client = results["main_therapist_behaviour"], results["client_talk_type"]
    assert therapist["n_units"] == 216 and client["n_units"] == 212
    assert therapist["fleiss"]["value"] == pytest.approx(0.737, abs=0.005)
    assert client["fleiss"]["value"] == pytest.approx(0.467, abs=0.005)
    assert therapist["alpha"]["value"] == pytest.approx(0.737, abs=0.005)
    assert client["alpha"]["value"] == pytest.approx(0.467, abs=0.005)
    assert therapist["alpha"]["ci_low"] < therapist["alpha"]["value"] < therapist["alpha"]["ci_high"]


@pytest.mark.parametrize("seed", range(5))
def test_numeric_tables_take_a_fast_path_with_the_same_coding(seed):
    from psythemes.agreement import _prepare

    rng = np.random.default_rng(seed)
    values = rng.choice([0.0, 1.0, 2.0, 2.5, np.nan], size=(40, 3))
    table = pd.DataFrame(values, columns=["a", "b", "c"])
    for categories in (None, [0, 1, 2, 2.5]):
        fast, slow = _prepare(table, categories), _prepare(table.astype(object), categories)
        np.testing.assert_array_equal(fast.codes, slow.codes)
        assert fast.categories == slow.categories and fast.coders == slow.coders
    with pytest.raises(InputError, match="not among the given categories"):
        _prepare(table, [0, 1])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_scikit_learn(seed, weights):
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(5, 200)), int(rng.integers(2, 6))
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < 0.6, a, rng.integers(0, k, n))
    ours = ag.cohen_kappa(np.column_stack([a, b]), weights=weights)
    theirs = cohen_kappa_score(a, b, weights=weights)
    assert ours == pytest.approx(theirs, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_precision_recall_f1_match_scikit_learn(seed):
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(seed)
    codes = ["a", "b", "c", "never"]  # "never" is neither predicted nor in the reference
    n = int(rng.integers(1, 60))
    pred = [{c for c in "abc" if rng.random() < 0.3} for _ in range(n)]
    ref = [{c for c in "ab" if rng.random() < 0.4} for _ in range(n)]  # "c" never in the reference
    per, avg = ag.precision_recall_f1(pred, ref, codes)
    y_pred = np.array([[c in s for c in codes] for s in pred], dtype=int)
    y_true = np.array([[c in s for c in codes] for s in ref], dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, support = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=np.nan)
        np.testing.assert_allclose(per[["precision", "recall", "f1"]].to_numpy(dtype=float).T, [p, r, f])
        assert per["support"].tolist() == support.tolist()
        for mode in ("micro", "macro"):
            expected = precision_recall_fscore_support(y_true, y_pred, average=mode, zero_division=np.nan)[:3]
            np.testing.assert_allclose([avg[f"{mode}_{m}"] for m in ("precision", "recall", "f1")], expected)
    assert (per["tp"] + per["fp"] + per["fn"] + per["tn"] == n).all()
