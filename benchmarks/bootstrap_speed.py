"""Time the vectorised bootstrap of psythemes.agreement: 1,000 resamples over 10,000 units.

Run from the repository root::

    .venv/bin/python benchmarks/bootstrap_speed.py

Prints one line per statistic: seconds for the point estimate plus 1,000 bootstrap
resamples (best of 3 runs), on synthetic data with 2 and with 5 coders (10% missing).
"""

from __future__ import annotations

import functools
import time

import numpy as np

from psythemes.agreement import agreement

N_UNITS = 10_000
N_BOOT = 1_000


def synthetic(n_coders: int, n_categories: int = 4, missing: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_categories, N_UNITS)
    ratings = np.where(rng.random((N_UNITS, n_coders)) < 0.75, truth[:, None],
                       rng.integers(0, n_categories, (N_UNITS, n_coders))).astype(object)
    ratings[rng.random(ratings.shape) < missing] = None
    return ratings


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    cases = [
        ("cohen", {}, 2, 0.0), ("cohen", {"weights": "quadratic"}, 2, 0.0), ("percent", {}, 2, 0.0),
        ("ac1", {}, 2, 0.0), ("bp", {}, 2, 0.0), ("fleiss", {}, 2, 0.0),
        ("alpha", {"level": "nominal"}, 2, 0.0), ("alpha", {"level": "ordinal"}, 2, 0.0),
        ("alpha", {"level": "interval"}, 2, 0.0),
        ("percent", {}, 5, 0.1), ("fleiss", {}, 5, 0.1), ("ac1", {}, 5, 0.1),
        ("alpha", {"level": "nominal"}, 5, 0.1), ("alpha", {"level": "ordinal"}, 5, 0.1),
    ]
    print(f"{N_BOOT} bootstrap resamples over {N_UNITS} units (best of 3)")
    for metric, kwargs, coders, missing in cases:
        data = synthetic(coders, missing=missing)
        seconds = best_of(functools.partial(agreement, data, metric, n_boot=N_BOOT, random_state=0, **kwargs))
        result = agreement(data, metric, n_boot=N_BOOT, random_state=0, **kwargs)
        label = metric + "".join(f" {v}" for v in kwargs.values())
        print(f"{label:<20} {coders} coders, {missing:.0%} missing: {seconds:6.3f} s  "
              f"value {result.value:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}]")


if __name__ == "__main__":
    main()
