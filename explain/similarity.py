"""How alike two attribution maps are: Spearman rank correlation and SSIM.

The sanity checks compare a method's map before and after the model is randomised, and key-frame stability
compares the maps of jittered windows with the unjittered one; both use these.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import ExplainError


def rank_average(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n of the flattened values, ties sharing their average rank (as scipy.stats.rankdata)."""
    _, inverse, counts = np.unique(np.asarray(v, dtype=np.float64).ravel(), return_inverse=True,
                                   return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def is_constant(v: np.ndarray) -> bool:
    """True when every value of the map is the same (no ranking, zero variance)."""
    v = np.asarray(v)
    return bool(v.size == 0 or np.all(v == v.flat[0]))


def spearman(a: np.ndarray, b: np.ndarray, *, one_flat: float = float("nan")) -> float:
    """Spearman rank correlation of two maps of the same shape (Pearson correlation of average ranks).

    1.0 for identical maps, flat ones included.  When only one map is constant there is no ranking to
    compare, and the answer is `one_flat`: NaN (leave it out of a mean) or, for a map that went flat under
    randomisation, 0.0 (it kept nothing of the original's ranking).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ExplainError(f"maps of different sizes cannot be compared: shapes {a.shape} and {b.shape}")
    if np.array_equal(a, b):
        return 1.0
    if is_constant(a) or is_constant(b):
        return float(one_flat)
    ra, rb = rank_average(a), rank_average(b)
    ra -= ra.mean()
    rb -= rb.mean()
    return float((ra * rb).sum() / np.sqrt((ra * ra).sum() * (rb * rb).sum()))


def ssim(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0, win_size: int = 7,
         k1: float = 0.01, k2: float = 0.03) -> float:
    """Mean structural similarity (Wang et al., 2004) of two 2-D maps with a uniform `win_size` window.

    Local means, variances (sample, n - 1) and covariance over each window that fits inside the map; the mean
    is taken over those windows, the same convention as skimage.metrics.structural_similarity's defaults.
    For two constant maps a and b it is (2ab + C1) / (a^2 + b^2 + C1), C1 = (k1 * data_range)^2.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ExplainError(f"SSIM needs two 2-D maps of one shape, got {a.shape} and {b.shape}")
    if min(a.shape) < win_size or win_size % 2 == 0:
        raise ExplainError(f"SSIM's window ({win_size}) must be odd and fit in the map {a.shape}")
    n = win_size * win_size
    ta, tb = torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None]

    def mean(t: torch.Tensor) -> torch.Tensor:  # window means at every valid position
        return F.avg_pool2d(t, win_size, stride=1)

    ua, ub = mean(ta), mean(tb)
    cov = n / (n - 1)  # sample (n - 1) statistics
    vaa = cov * (mean(ta * ta) - ua * ua)
    vbb = cov * (mean(tb * tb) - ub * ub)
    vab = cov * (mean(ta * tb) - ua * ub)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ua * ub + c1) * (2 * vab + c2)) / ((ua * ua + ub * ub + c1) * (vaa + vbb + c2))
    return float(s.mean())


def unit_abs(v: np.ndarray) -> np.ndarray:
    """|v| scaled to [0, 1] by its own maximum (a zero map stays zero): the form SSIM compares."""
    v = np.abs(np.asarray(v, dtype=np.float64))
    top = v.max() if v.size else 0.0
    return v / top if top > 0 else v
