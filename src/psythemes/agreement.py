"""Agreement statistics: how far coders (human or machine) agree on the same units.

Reliability data is a table with one row per *unit* (segment, utterance, ...) and one
column per *coder*; a missing cell (``None``, ``NaN``, ``""``) means that coder did not
code that unit.  Categories may be strings or numbers; for multi-label coding a cell may
hold a *set* of codes.

Point estimates come from kept libraries where their conventions fit (the
``krippendorff`` package for alpha, statsmodels for Fleiss' kappa on complete data).
Everything else, and every bootstrap, uses one vectorised formulation written here: units
with the same ratings are collapsed to *patterns*, each statistic is a function of how many
units of each pattern there are, and a bootstrap resample of ``n`` units is a multinomial
draw of pattern counts.  Cohen's kappa and precision/recall/F1 are counts over a confusion
table, computed here as well: importing scikit-learn would cost a cached re-run of
``extract`` a large share of its time (``docs/performance.md``, *Cached re-runs*).  The
tests check every route against the libraries (scikit-learn included) and against published
worked examples.

Conventions (see ``docs/agreement.md`` for formulas):

* Cohen's kappa: two coders; units missing either rating are dropped.  Weighted kappa
  uses disagreement weights ``|i - j|`` (linear) or ``(i - j)**2`` (quadratic) on the
  *indices* of the categories, in the order of ``categories`` (default: the observed
  categories, sorted), as scikit-learn does.
* Percent agreement, Fleiss' kappa, Gwet's AC1 and Brennan-Prediger for any number of
  coders with missing data follow Gwet (2014): observed agreement is the mean over units
  with at least two ratings of the share of agreeing rating pairs; chance agreement uses
  category shares averaged over units with at least one rating.  With complete data this is
  exactly Fleiss (1971) and, for two coders, Scott's pi / Gwet's two-rater AC1.
* Krippendorff's alpha uses pairable values only: units with fewer than two ratings drop out.
* A statistic is undefined (``NaN`` and a :class:`~psythemes.errors.PsythemesWarning`,
  never an exception) when fewer than two units carry two or more ratings, or when chance
  agreement is complete (a single category, e.g. a code nobody used).  Perfect agreement
  with at least two categories in use gives 1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, PsythemesWarning

__all__ = [
    "METRICS",
    "LEVELS",
    "WEIGHTS",
    "AgreementResult",
    "agreement",
    "percent_agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
    "brennan_prediger",
    "masi_distance",
    "alpha_masi",
    "to_code_set",
    "code_presence",
    "per_code_agreement",
    "precision_recall_f1",
]

#: Metric names accepted by :func:`agreement` (and ``psythemes agree --metric``).
METRICS: tuple[str, ...] = ("alpha", "cohen", "fleiss", "ac1", "percent", "bp")
#: Levels of measurement for Krippendorff's alpha; ``masi`` is for cells holding code sets.
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio", "masi")
#: Disagreement weights for Cohen's kappa (``None`` = unweighted).
WEIGHTS: tuple[str | None, ...] = (None, "linear", "quadratic")

_METRIC_NAMES = {
    "alpha": "Krippendorff's alpha",
    "cohen": "Cohen's kappa",
    "fleiss": "Fleiss' kappa",
    "ac1": "Gwet's AC1",
    "percent": "percent agreement",
    "bp": "Brennan-Prediger coefficient",
}


# --------------------------------------------------------------------------------------
# Reliability data -> integer codes -> unit patterns
# --------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (frozenset, set, tuple, list)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_float(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class _Coded:
    """Reliability data as integer codes: ``codes[u, r]`` is a category index or -1."""

    codes: np.ndarray
    categories: list[Any]
    coders: list[str]


def _prepare(data: Any, categories: Sequence[Any] | None = None, *, ordered: bool = False) -> _Coded:
    """Encode a units x coders table as integer category codes (-1 = missing)."""
    if isinstance(data, pd.DataFrame):
        coders = [str(c) for c in data.columns]
        raw = data.to_numpy(dtype=object)
    else:
        raw = np.asarray(data, dtype=object)
        if raw.ndim != 2:
            raise InputError(f"reliability data must be a 2-D table (units x coders), got {raw.ndim} dimension(s)")
        coders = [f"coder{i + 1}" for i in range(raw.shape[1])]
    if raw.ndim != 2:
        raise InputError("reliability data must be a 2-D table (units x coders)")
    if isinstance(data, pd.DataFrame) and len(data.columns) and all(
        pd.api.types.is_float_dtype(t) or (pd.api.types.is_integer_dtype(t) and not pd.api.types.is_bool_dtype(t))
        for t in data.dtypes
    ):
        # numbers (NaN = missing): no Python call per cell, one per distinct value
        values = data.to_numpy(dtype=float)
        missing = np.isnan(values)
        distinct, position = np.unique(values[~missing], return_inverse=True)
        present = [_normalise_value(float(v)) for v in distinct]
    else:
        flat = raw.ravel()
        missing = np.fromiter((_is_missing(v) for v in flat), dtype=bool, count=flat.size).reshape(raw.shape)
        first_seen: dict[Any, int] = {}
        position = np.fromiter(
            (first_seen.setdefault(_normalise_value(v), len(first_seen)) for v in flat[~missing.ravel()]),
            dtype=np.int64,
        )
        present = list(first_seen)
    # `present`: the distinct values; `position`: which of them each present cell holds

    if categories is not None:
        cats = [_normalise_value(c) for c in categories]
        if len(set(cats)) != len(cats):
            raise InputError("categories must not repeat")
        index = {c: i for i, c in enumerate(cats)}
        unknown = sorted({str(v) for v in present if v not in index})
        if unknown:
            raise InputError(f"values not among the given categories: {', '.join(unknown[:10])}")
    else:
        cats = _sorted_categories(set(present))
        if ordered and cats and any(_as_float(c) is None for c in cats):
            raise InputError(
                "ordinal data with non-numeric categories needs their order: pass categories "
                "(--categories low,mid,high on the command line)"
            )
        index = {c: i for i, c in enumerate(cats)}
    codes = np.full(raw.shape, -1, dtype=np.int64)
    if present:
        codes[~missing] = np.array([index[v] for v in present], dtype=np.int64)[position]
    return _Coded(codes, cats, coders)


def _normalise_value(value: Any) -> Any:
    """Make equal ratings compare equal: 1 == 1.0 == np.int64(1); sets become frozensets."""
    if isinstance(value, (set, list, tuple)):
        return frozenset(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _sorted_categories(values: set[Any]) -> list[Any]:
    if all(isinstance(v, frozenset) for v in values):
        return sorted(values, key=lambda s: (len(s), sorted(map(str, s))))
    numeric = {v: _as_float(v) for v in values}
    if all(x is not None for x in numeric.values()):
        return sorted(values, key=lambda v: (numeric[v], str(v)))
    return sorted(values, key=str)


@dataclass(frozen=True)
class _Patterns:
    """Distinct rows of the coded table with per-pattern quantities used by every statistic."""

    codes: np.ndarray  # (P, R) category index or -1
    weight: np.ndarray  # (P,) number of units with this pattern
    counts: np.ndarray  # (P, C) ratings per category
    n_categories: int

    @property
    def m(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    @property
    def pairable(self) -> np.ndarray:
        return self.m >= 2


def _patterns(codes: np.ndarray, n_categories: int) -> _Patterns:
    if codes.shape[0] == 0:
        return _Patterns(codes.reshape(0, codes.shape[1]), np.zeros(0), np.zeros((0, n_categories)), n_categories)
    uniq, weight = np.unique(codes, axis=0, return_counts=True)
    counts = np.zeros((uniq.shape[0], n_categories), dtype=float)
    rows = np.repeat(np.arange(uniq.shape[0]), uniq.shape[1])
    cols = uniq.ravel()
    keep = cols >= 0
    np.add.at(counts, (rows[keep], cols[keep]), 1.0)
    return _Patterns(uniq, weight.astype(float), counts, n_categories)


# --------------------------------------------------------------------------------------
# Statistics as functions of pattern weights: w has shape (..., P); results shape (...)
# --------------------------------------------------------------------------------------


def _pairwise_terms(pat: _Patterns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    m = pat.m
    pairable = (m >= 2).astype(float)
    rated = (m >= 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        agree = np.where(m >= 2, (pat.counts * (pat.counts - 1)).sum(1) / (m * (m - 1)), 0.0)
        share = np.where((m >= 1)[:, None], pat.counts / m[:, None], 0.0)
    return pairable, rated, agree, share


def _observed_agreement(pat: _Patterns, w: np.ndarray) -> np.ndarray:
    pairable, _, agree, _ = _pairwise_terms(pat)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ agree) / (w @ pairable)


def _category_shares(pat: _Patterns, w: np.ndarray) -> np.ndarray:
    _, rated, _, share = _pairwise_terms(pat)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ share) / (w @ rated)[..., None]


def _chance_corrected(po: np.ndarray, pe: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (po - pe) / (1.0 - pe)
    return np.where(np.isclose(pe, 1.0), np.nan, out)


def _stat_percent(pat: _Patterns, w: np.ndarray) -> np.ndarray:
    return _observed_agreement(pat, w)


def _stat_fleiss(pat: _Patterns, w: np.ndarray) -> np.ndarray:
    pi = _category_shares(pat, w)
    return _chance_corrected(_observed_agreement(pat, w), (pi**2).sum(-1))


def _stat_ac1(pat: _Patterns, w: np.ndarray) -> np.ndarray:
    q = pat.n_categories
    pi = _category_shares(pat, w)
    po = _observed_agreement(pat, w)
    if q < 2:
        return np.full(np.shape(po), np.nan)
    return _chance_corrected(po, (pi * (1 - pi)).sum(-1) / (q - 1))


def _stat_bp(pat: _Patterns, w: np.ndarray) -> np.ndarray:
    q = pat.n_categories
    po = _observed_agreement(pat, w)
    if q < 2:
        return np.full(np.shape(po), np.nan)
    return _chance_corrected(po, np.full(np.shape(po), 1.0 / q))


def _cohen_weight_matrix(n_categories: int, weights: str | None) -> np.ndarray:
    idx = np.arange(n_categories, dtype=float)
    diff = np.abs(idx[:, None] - idx[None, :])
    if weights is None:
        return (diff > 0).astype(float)
    if weights == "linear":
        return diff
    if weights == "quadratic":
        return diff**2
    raise InputError(f"unknown weights {weights!r}; use one of: linear, quadratic (or none)")


def _stat_cohen(pat: _Patterns, w: np.ndarray, weights: str | None = None) -> np.ndarray:
    if pat.codes.shape[1] != 2:
        raise InputError(f"Cohen's kappa needs exactly 2 coders, got {pat.codes.shape[1]}")
    a, b = pat.codes[:, 0], pat.codes[:, 1]
    both = (a >= 0) & (b >= 0)
    c = pat.n_categories
    dis = _cohen_weight_matrix(c, weights)
    onehot_a = np.zeros((len(a), c))
    onehot_b = np.zeros((len(b), c))
    onehot_a[np.flatnonzero(both), a[both]] = 1.0
    onehot_b[np.flatnonzero(both), b[both]] = 1.0
    d_obs = np.where(both, dis[np.clip(a, 0, None), np.clip(b, 0, None)], 0.0)
    n = w @ both.astype(float)
    rows = w @ onehot_a
    cols = w @ onehot_b
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = (w @ d_obs) / n
        expected = np.einsum("...c,ck,...k->...", rows, dis, cols) / n**2
        out = 1.0 - observed / expected
    return np.where(np.isclose(expected, 0.0), np.nan, out)


def _masi_matrix(categories: Sequence[Any]) -> np.ndarray:
    sets = [frozenset(c) for c in categories]
    return np.array([[masi_distance(x, y) for y in sets] for x in sets], dtype=float)


def _delta_matrix(categories: Sequence[Any], level: str) -> np.ndarray:
    """Fixed distance matrix for nominal, ratio and MASI alpha (interval/ordinal use positions)."""
    c = len(categories)
    if level == "nominal":
        return 1.0 - np.eye(c)
    if level == "ratio":
        v = _numeric_values(categories, level)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = ((v[:, None] - v[None, :]) / (v[:, None] + v[None, :])) ** 2
        return np.nan_to_num(d, nan=0.0)  # 0/0 only on the diagonal of a zero value
    if level == "masi":
        return _masi_matrix(categories)
    raise ValueError(level)


def _numeric_values(categories: Sequence[Any], level: str) -> np.ndarray:
    values = [_as_float(c) for c in categories]
    bad = [str(c) for c, v in zip(categories, values, strict=True) if v is None]
    if bad:
        raise InputError(f"{level} alpha needs numeric ratings; not numeric: {', '.join(bad[:10])}")
    return np.asarray(values, dtype=float)


def _stat_alpha(pat: _Patterns, w: np.ndarray, level: str = "nominal", categories: Sequence[Any] = ()) -> np.ndarray:
    """Krippendorff's alpha from coincidences: ``1 - (n - 1) * sum(o * d) / sum(n_c * n_k * d)``."""
    m = pat.m
    pairable = m >= 2
    counts = pat.counts * pairable[:, None]
    inv = np.where(pairable, 1.0 / np.where(pairable, m - 1, 1), 0.0)
    totals = w @ counts  # (..., C) pairable values per category
    n = totals.sum(-1)
    if level in ("interval", "ordinal"):
        # both metrics are squared differences of a position z: the value (interval) or the
        # mid-rank of the category among all pairable values (ordinal; depends on the sample)
        if level == "interval":
            z = np.broadcast_to(_numeric_values(categories, level), totals.shape)
        else:
            z = np.cumsum(totals, axis=-1) - totals / 2.0
        s1 = (totals * z**2).sum(-1)
        s2 = (totals * z).sum(-1)
        expected = 2.0 * (n * s1 - s2**2)
        first = ((w * (inv * m)) @ counts * z**2).sum(-1)
        proj = z @ counts.T  # (..., P): sum_c n_pc z_c
        observed = 2.0 * (first - (w * inv * proj**2).sum(-1))
    else:
        delta = _delta_matrix(categories, level)
        per_pattern = ((counts @ delta) * counts).sum(1) * inv
        observed = w @ per_pattern
        expected = np.einsum("...c,ck,...k->...", totals, delta, totals)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 - (n - 1.0) * observed / expected
    return np.where(np.isclose(expected, 0.0) | (n < 2), np.nan, out)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementResult:
    """One agreement statistic with its bootstrap confidence interval.

    Attributes
    ----------
    metric : str
        One of :data:`METRICS`.
    value : float
        The statistic (``NaN`` where undefined).
    ci_low, ci_high : float
        Percentile bootstrap interval (``NaN`` without bootstrap or where undefined).
    n_units : int
        Units with at least two ratings (the units that carry agreement information).
    n_coders : int
        Columns of the reliability data.
    level : str or None
        Level of measurement (alpha only).
    weights : str or None
        Disagreement weights (Cohen's kappa only).
    ci : float or None
        Confidence level of the interval.
    n_boot : int
        Bootstrap resamples drawn (0 = none).
    reason : str or None
        Why ``value`` is undefined, if it is.
    """

    metric: str
    value: float
    ci_low: float
    ci_high: float
    n_units: int
    n_coders: int
    level: str | None = None
    weights: str | None = None
    ci: float | None = None
    n_boot: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (NaN stays NaN; :func:`psythemes.outputs.write_json` writes it as null)."""
        return asdict(self)


def _stat_function(metric: str, level: str, weights: str | None, categories: Sequence[Any]) -> Callable:
    if metric == "percent":
        return _stat_percent
    if metric == "fleiss":
        return _stat_fleiss
    if metric == "ac1":
        return _stat_ac1
    if metric == "bp":
        return _stat_bp
    if metric == "cohen":
        return lambda pat, w: _stat_cohen(pat, w, weights)
    if metric == "alpha":
        return lambda pat, w: _stat_alpha(pat, w, level, categories)
    raise InputError(f"unknown metric {metric!r}; use one of: {', '.join(METRICS)}")


def _undefined_reason(metric: str, pat: _Patterns, coded: _Coded) -> str | None:
    pairable = pat.pairable
    n_pairable = int(pat.weight[pairable].sum())
    if n_pairable < 2:
        return f"fewer than 2 units carry 2 or more ratings ({n_pairable})"
    used = int((pat.counts[pairable].sum(0) > 0).sum())
    if metric in ("ac1", "bp") and len(coded.categories) < 2:
        return "only one category"
    if metric in ("alpha", "fleiss", "cohen") and used < 2:
        return "only one category is used, so chance agreement is complete"
    return None


def _check_options(metric: str, level: str, weights: str | None) -> None:
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; use one of: {', '.join(METRICS)}")
    if level not in LEVELS:
        raise InputError(f"unknown level {level!r}; use one of: {', '.join(LEVELS)}")
    if weights not in WEIGHTS:
        raise InputError(f"unknown weights {weights!r}; use one of: linear, quadratic (or none)")
    if weights is not None and metric != "cohen":
        raise InputError("weights apply to Cohen's kappa only (use alpha with --level for other metrics)")


def _coded_for(metric: str, data: Any, level: str, categories: Sequence[Any] | None) -> _Coded:
    coded = _prepare(data, categories, ordered=(metric == "alpha" and level == "ordinal"))
    if metric == "cohen":
        if coded.codes.shape[1] != 2:
            raise InputError(f"Cohen's kappa needs exactly 2 coders, got {coded.codes.shape[1]}")
        if categories is None:
            # listwise: categories are those seen in the units both coders rated (scikit-learn's labels)
            both = (coded.codes >= 0).all(axis=1)
            used = np.unique(coded.codes[both])
            remap = np.full(len(coded.categories) + 1, -1)
            remap[used] = np.arange(len(used))
            codes = np.where(both[:, None], remap[coded.codes], -1)  # type: ignore[index]  # numpy stubs: all() of 2-D
            coded = _Coded(codes, [coded.categories[i] for i in used], coded.coders)
    return coded


#: Above this many units x values**2 the ``krippendorff`` package would need gigabytes; our
#: coincidence formula (same numbers, see tests) takes over.
_KRIPPENDORFF_MAX_CELLS = 20_000_000


def _point_estimate(metric: str, coded: _Coded, pat: _Patterns, level: str, weights: str | None) -> float:
    """The statistic from the kept library where its convention applies, else our formula."""
    if metric == "alpha" and pat.weight.sum() * len(coded.categories) ** 2 <= _KRIPPENDORFF_MAX_CELLS:
        # the package builds a units x values x values array: use it where that fits in memory
        import krippendorff

        if level == "masi":
            delta = _masi_matrix(coded.categories)
            domain = np.arange(len(coded.categories))

            def metric_fn(v1, v2, i1, i2, n_v, dtype=np.float64):  # noqa: ANN001
                return np.asarray(delta[i1, i2], dtype=dtype)

            return float(krippendorff.alpha(value_counts=pat.counts.repeat(pat.weight.astype(int), axis=0),
                                            value_domain=domain, level_of_measurement=metric_fn))
        domain = (
            _numeric_values(coded.categories, level) if level in ("interval", "ratio")
            else np.arange(len(coded.categories))
        )
        value_counts = pat.counts.repeat(pat.weight.astype(int), axis=0)
        return float(krippendorff.alpha(value_counts=value_counts, value_domain=domain,
                                        level_of_measurement=level))  # type: ignore[arg-type]  # checked above
    if metric == "fleiss":
        m = pat.m
        rated = m >= 1
        if rated.any() and np.all(m[rated] == m[rated][0]):
            from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

            table = pat.counts[rated].repeat(pat.weight[rated].astype(int), axis=0)
            return float(sm_fleiss(table, method="fleiss"))
    stat = _stat_function(metric, level, weights, coded.categories)
    return float(stat(pat, pat.weight))


def _bootstrap_replicates(
    stat: Callable[[_Patterns, np.ndarray], np.ndarray],
    pat: _Patterns,
    n_boot: int,
    random_state: int | np.random.Generator | None = 0,
    chunk: int = 500,
) -> np.ndarray:
    """Bootstrap replicates of a statistic, resampling units with replacement.

    Units with the same ratings are interchangeable for every statistic here, so drawing
    ``n`` units with replacement is drawing pattern counts from a multinomial with the
    observed pattern shares; every replicate is then one row of a weight matrix.
    """
    from .validate import check_seed

    if not isinstance(random_state, np.random.Generator):
        check_seed(random_state)  # a negative seed was an 'unexpected ValueError'
    rng = np.random.default_rng(random_state)
    n_units = int(pat.weight.sum())
    if n_boot <= 0 or n_units == 0:
        return np.zeros(0)
    p = pat.weight / n_units
    out = []
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        w = rng.multinomial(n_units, p, size=size).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.asarray(stat(pat, w), dtype=float))
    return np.concatenate(out)


def _percentile_ci(replicates: np.ndarray, ci: float) -> tuple[float, float]:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1.0 - ci) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def agreement(
    data: Any,
    metric: str = "alpha",
    *,
    level: str = "nominal",
    weights: str | None = None,
    categories: Sequence[Any] | None = None,
    ci: float | None = 0.95,
    n_boot: int = 1000,
    random_state: int | np.random.Generator | None = 0,
    warn: bool = True,
) -> AgreementResult:
    """Compute one agreement statistic and its bootstrap confidence interval.

    Parameters
    ----------
    data : DataFrame or 2-D array
        Reliability data: rows are units, columns are coders; ``None``/``NaN``/``""`` = missing.
    metric : {"alpha", "cohen", "fleiss", "ac1", "percent", "bp"}
        Krippendorff's alpha, Cohen's kappa (2 coders), Fleiss' kappa, Gwet's AC1, percent
        agreement, Brennan-Prediger.
    level : {"nominal", "ordinal", "interval", "ratio", "masi"}
        Level of measurement for alpha (``masi``: cells hold code sets).
    weights : {None, "linear", "quadratic"}
        Disagreement weights for Cohen's kappa.
    categories : sequence, optional
        All categories in order.  Needed for ordinal alpha on non-numeric labels; it also
        sets ``q`` for AC1 and Brennan-Prediger (default: the categories observed).
    ci : float or None
        Confidence level of the percentile bootstrap interval; ``None`` skips the bootstrap.
    n_boot : int
        Bootstrap resamples (units resampled with replacement).
    random_state : int, Generator or None
        Seed of the bootstrap.
    warn : bool
        Emit a :class:`PsythemesWarning` when the statistic is undefined.

    Returns
    -------
    AgreementResult
    """
    _check_options(metric, level, weights)
    if ci is not None and not 0.0 < ci < 1.0:
        raise InputError(f"ci must be between 0 and 1, got {ci}")
    coded = _coded_for(metric, data, level, categories)
    pat = _patterns(coded.codes, len(coded.categories))
    n_units = int(pat.weight[pat.pairable].sum()) if len(pat.weight) else 0
    reason = _undefined_reason(metric, pat, coded)
    common = dict(
        metric=metric,
        n_units=n_units,
        n_coders=coded.codes.shape[1],
        level=level if metric == "alpha" else None,
        weights=weights if metric == "cohen" else None,
        ci=ci,
    )
    if reason is not None:
        if warn:
            warnings.warn(f"{_METRIC_NAMES[metric]} is undefined: {reason}", PsythemesWarning, stacklevel=2)
        return AgreementResult(value=math.nan, ci_low=math.nan, ci_high=math.nan, n_boot=0, reason=reason, **common)
    value = _point_estimate(metric, coded, pat, level, weights)
    low = high = math.nan
    drawn = 0
    if ci is not None and n_boot > 0:
        stat = _stat_function(metric, level, weights, coded.categories)
        reps = _bootstrap_replicates(stat, pat, n_boot, random_state)
        low, high = _percentile_ci(reps, ci)
        drawn = n_boot
    return AgreementResult(value=value, ci_low=low, ci_high=high, n_boot=drawn, reason=None, **common)


def _value(metric: str, data: Any, **kwargs: Any) -> float:
    return agreement(data, metric, ci=None, n_boot=0, **kwargs).value


def percent_agreement(data: Any) -> float:
    """Share of agreeing rating pairs, averaged over units with 2+ ratings (pairwise for >2 coders)."""
    return _value("percent", data, warn=True)


def cohen_kappa(data: Any, weights: str | None = None, categories: Sequence[Any] | None = None) -> float:
    """Cohen's kappa for two coders (columns); ``weights`` = None, "linear" or "quadratic"."""
    return _value("cohen", data, weights=weights, categories=categories)


def fleiss_kappa(data: Any, categories: Sequence[Any] | None = None) -> float:
    """Fleiss' kappa for any number of coders; missing ratings handled as in Gwet (2014)."""
    return _value("fleiss", data, categories=categories)


def krippendorff_alpha(data: Any, level: str = "nominal", categories: Sequence[Any] | None = None) -> float:
    """Krippendorff's alpha at the given level of measurement, with missing values."""
    return _value("alpha", data, level=level, categories=categories)


def gwet_ac1(data: Any, categories: Sequence[Any] | None = None) -> float:
    """Gwet's AC1 for any number of coders, with missing values (Gwet 2008, 2014)."""
    return _value("ac1", data, categories=categories)


def brennan_prediger(data: Any, categories: Sequence[Any] | None = None) -> float:
    """Brennan-Prediger coefficient: chance agreement ``1/q`` over ``q`` categories."""
    return _value("bp", data, categories=categories)


# --------------------------------------------------------------------------------------
# Multi-label coding: code sets per unit
# --------------------------------------------------------------------------------------


def masi_distance(a: Iterable[Any], b: Iterable[Any]) -> float:
    """MASI distance between two code sets (Passonneau 2006): ``1 - Jaccard * monotonicity``.

    Monotonicity is 1 for equal sets, 2/3 when one set contains the other, 1/3 when they
    overlap otherwise, 0 when they are disjoint.  Two empty sets are equal (distance 0).
    """
    a, b = frozenset(a), frozenset(b)
    if a == b:
        return 0.0
    union = a | b
    inter = a & b
    if not inter:
        return 1.0
    jaccard = len(inter) / len(union)
    mono = 2.0 / 3.0 if (a <= b or b <= a) else 1.0 / 3.0
    return 1.0 - jaccard * mono


def to_code_set(cell: Any, sep: str = ";") -> frozenset[str] | None:
    """A cell as a set of codes: sets/lists as they are, ``"a;b"`` split; missing -> ``None``.

    The empty string is *missing*; an explicit empty set (or list), or a cell of only ``-``
    (how a table says it), means "coded, no code".
    """
    if isinstance(cell, (set, frozenset, list, tuple)):
        return frozenset(str(c) for c in cell)
    if _is_missing(cell):
        return None
    if str(cell).strip() == "-":
        return frozenset()
    return frozenset(p.strip() for p in str(cell).split(sep) if p.strip())


def _sets_frame(data: Any) -> pd.DataFrame:
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(np.asarray(data, dtype=object))
    return frame.map(to_code_set)


def alpha_masi(data: Any, **kwargs: Any) -> AgreementResult:
    """Krippendorff's alpha with the MASI distance over code sets (cells hold sets of codes).

    Keyword arguments go to :func:`agreement` (``ci``, ``n_boot``, ``random_state``, ``warn``).
    """
    return agreement(_sets_frame(data), "alpha", level="masi", **kwargs)


def code_presence(data: Any, code: str) -> pd.DataFrame:
    """Presence (1) / absence (0) of one code per unit and coder; missing sets stay missing."""
    sets = _sets_frame(data)
    return sets.map(lambda s: np.nan if s is None else float(code in s))


def per_code_agreement(
    data: Any,
    codes: Sequence[str] | None = None,
    *,
    ci: float | None = 0.95,
    n_boot: int = 1000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Presence/absence agreement for each code, with prevalence next to kappa.

    Parameters
    ----------
    data : DataFrame or 2-D array
        Units x coders; cells hold code sets (or ``"a;b"`` strings); missing = not coded.
    codes : sequence of str, optional
        Codes to report (default: every code used).
    ci, n_boot, random_state
        Bootstrap settings, see :func:`agreement`.

    Returns
    -------
    DataFrame
        One row per code: ``prevalence`` (share of ratings that apply the code), ``percent``,
        ``kappa`` (Cohen for 2 coders, Fleiss for more) , ``alpha`` (nominal), ``ac1``, each
        chance-corrected statistic with ``*_ci_low``/``*_ci_high``.  High or low prevalence
        depresses kappa and alpha even when agreement is high (the kappa paradox); AC1 is less
        affected, so read them together.
    """
    sets = _sets_frame(data)
    if codes is None:
        codes = sorted({c for s in sets.to_numpy().ravel() if s is not None for c in s})
    kappa_metric = "cohen" if sets.shape[1] == 2 else "fleiss"
    rows = []
    for code in codes:
        table = sets.map(lambda s, code=code: np.nan if s is None else float(code in s))
        values = table.to_numpy(dtype=float)
        rated = np.isfinite(values)
        row: dict[str, Any] = {
            "code": code,
            "n_units": int((rated.sum(1) >= 2).sum()),
            "prevalence": float(np.nanmean(values)) if rated.any() else math.nan,
        }
        # both categories fixed, so a code nobody used is "one category" and not silently dropped
        row["percent"] = agreement(table, "percent", categories=[0, 1], ci=None, n_boot=0, warn=False).value
        undefined: dict[str, str] = {}
        for name, metric in (("kappa", kappa_metric), ("alpha", "alpha"), ("ac1", "ac1")):
            res = agreement(table, metric, categories=[0, 1], ci=ci, n_boot=n_boot,
                            random_state=random_state, warn=False)
            if name == "kappa" or name == "alpha":
                res = _used_both(res, values)
            if res.reason is not None:
                undefined[name] = res.reason
            row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = res.value, res.ci_low, res.ci_high
        if undefined:
            warnings.warn(f"code {code!r}: {', '.join(undefined)} undefined ({next(iter(undefined.values()))})",
                          PsythemesWarning, stacklevel=2)
        rows.append(row)
    columns = ["code", "n_units", "prevalence", "percent", "kappa", "kappa_ci_low", "kappa_ci_high",
               "alpha", "alpha_ci_low", "alpha_ci_high", "ac1", "ac1_ci_low", "ac1_ci_high"]
    return pd.DataFrame(rows, columns=columns)


def _used_both(res: AgreementResult, values: np.ndarray) -> AgreementResult:
    """Kappa and alpha with fixed categories [0, 1]: still undefined when only one is used."""
    used = set(np.unique(values[np.isfinite(values)]).tolist())
    if len(used) < 2 and res.reason is None:
        return AgreementResult(**{**res.to_dict(), "value": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                                  "reason": "only one category is used, so chance agreement is complete"})
    return res


def precision_recall_f1(
    predicted: Sequence[Iterable[str]],
    reference: Sequence[Iterable[str]],
    codes: Sequence[str],
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-code precision, recall and F1 of predicted code sets against reference sets.

    Parameters
    ----------
    predicted, reference : sequences of code sets, one per unit (same order)
    codes : sequence of str
        The codes to score.

    Returns
    -------
    per_code : DataFrame
        ``code, tp, fp, fn, tn, support, precision, recall, f1`` (``NaN`` where a denominator is 0).
    averages : dict
        ``micro_*`` and ``macro_*`` precision, recall, F1 (macro ignores undefined codes)
        and ``exact_match`` (share of units whose sets are identical).
    """
    if len(predicted) != len(reference):
        raise InputError("predicted and reference must have one code set per unit each")
    codes = list(codes)
    index = {c: i for i, c in enumerate(codes)}
    y_pred = np.zeros((len(predicted), len(codes)), dtype=int)
    y_true = np.zeros_like(y_pred)
    for row, (p, r) in enumerate(zip(predicted, reference, strict=True)):
        for c in p:
            if c in index:
                y_pred[row, index[c]] = 1
        for c in r:
            if c in index:
                y_true[row, index[c]] = 1
    averages: dict[str, float] = {}
    if not codes or len(predicted) == 0:
        per = pd.DataFrame(columns=["code", "tp", "fp", "fn", "tn", "support", "precision", "recall", "f1"])
        return per, {k: math.nan for k in ("micro_precision", "micro_recall", "micro_f1", "macro_precision",
                                           "macro_recall", "macro_f1", "exact_match")}
    # scikit-learn's conventions (zero_division=nan), checked against it in the tests
    tp = (y_true & y_pred).sum(axis=0)
    fp = ((1 - y_true) & y_pred).sum(axis=0)
    fn = (y_true & (1 - y_pred)).sum(axis=0)
    tn = len(y_true) - tp - fp - fn
    p, r, f = _prf(tp, fp, fn)
    per = pd.DataFrame({
        "code": codes, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "support": tp + fn, "precision": p, "recall": r, "f1": f,
    })
    micro = _prf(tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all codes undefined: nan, no warning
        macro = [np.nanmean(v) if np.isfinite(v).any() else math.nan for v in (p, r, f)]
    for avg, (pa, ra, fa) in (("micro", [v[0] for v in micro]), ("macro", macro)):
        averages[f"{avg}_precision"], averages[f"{avg}_recall"], averages[f"{avg}_f1"] = (
            float(pa), float(ra), float(fa))
    averages["exact_match"] = float((y_pred == y_true).all(axis=1).mean())
    return per, averages


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 per column; NaN where a denominator is 0."""
    tp, fp, fn = (np.asarray(x, dtype=float) for x in (tp, fp, fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    return precision, recall, f1
