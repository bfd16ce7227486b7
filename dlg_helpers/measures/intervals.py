"""How sure a rate or a median is: 95 % intervals, and the words that carry them with their n.

A rate of successes gets the Wilson score interval (it behaves at 0 of n and n of n, where the
textbook interval collapses to a point). A median gets the distribution-free interval between two
order statistics, chosen from the binomial distribution; with five runs or fewer no pair of order
statistics reaches 95 %, so the interval is the whole range and its real coverage is said.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CONFIDENCE", "wilson", "MedianInterval", "median_interval", "rate_text",
           "share_text", "INDICATIVE_BELOW"]

CONFIDENCE = 0.95
"""The coverage every interval in the course aims at."""

INDICATIVE_BELOW = 3
"""A verdict resting on fewer runs than this is called indicative: one or two runs cannot tell a
model's behaviour from the luck of a random start."""

_Z = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson(successes: int, trials: int, z: float = _Z) -> tuple[float, float]:
    """The Wilson score interval of a rate ``successes / trials`` (95 % by default).

    Raises:
        ValueError: when ``trials`` is not positive or ``successes`` is outside 0..trials.
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"a rate needs 0 <= successes <= trials and trials > 0, got "
                         f"{successes} of {trials}")
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(rate * (1 - rate) / trials
                                                + z * z / (4 * trials * trials))
    # At 0 (or all) successes the bound is exactly the rate; computed, it can miss by a rounding
    # error (3e-18 for 0 of 100) and fall on the wrong side of it.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class MedianInterval:
    """A median, the order-statistic interval around it (None for a single value) and the
    interval's coverage."""

    median: float
    low: float | None
    high: float | None
    coverage: float | None
    n: int


def _binomial_cdf(k: int, n: int) -> float:
    return sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> MedianInterval:
    """The median of ``values`` and the narrowest symmetric order-statistic interval
    ``[x_(j), x_(n+1-j)]`` whose coverage is at least ``confidence`` (the whole range, with its
    smaller coverage, when no such pair exists).

    Raises:
        ValueError: for no values, or a NaN among them.
    """
    if not values or any(math.isnan(v) for v in values):
        raise ValueError(f"a median needs one or more numbers, got {list(values)}")
    ordered, n = sorted(values), len(values)
    median = statistics.median(ordered)
    if n == 1:
        return MedianInterval(median, None, None, None, 1)
    j = 1  # 1-based: the interval [x_(j), x_(n+1-j)] covers the median with 1 - 2 P(B <= j-1)
    while j + 1 <= n // 2 and 1 - 2 * _binomial_cdf(j, n) >= confidence:
        j += 1
    return MedianInterval(median, ordered[j - 1], ordered[n - j], 1 - 2 * _binomial_cdf(j - 1, n),
                          n)


def _percent(share: float, sign: bool = True, digits: int = 0) -> str:
    return f"{100 * share:.{digits}f}" + (" %" if sign else "")


def rate_text(successes: int, trials: int, what: str = "runs") -> str:
    """``"4 of 5 runs (80 %, 95 % CI 38–96 %)"``, with a decimal where the interval is too
    narrow for whole per cents (``"1,000 of 1,000 labels (100 %, 95 % CI 99.6–100.0 %)"``);
    ``"no runs"`` has no rate."""
    if trials == 0:
        return f"no {what}"
    return share_text(successes, trials, *wilson(successes, trials), what)


def share_text(count: int, total: int, low: float, high: float, what: str = "runs") -> str:
    """A share with a 95 % interval found some other way (a bootstrap), written as
    :func:`rate_text` writes Wilson's: ``"52 of 56 images (93 %, 95 % CI 84–98 %)"``."""
    digits = 1 if high - low < 0.02 else 0
    return (f"{count:,} of {total:,} {what} ({_percent(count / total, digits=digits)}, "
            f"95 % CI {_percent(low, False, digits)}–{_percent(high, digits=digits)})")


