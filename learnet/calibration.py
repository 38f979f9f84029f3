"""Temperature scaling (Guo et al., ICML 2017): one scalar that makes softmax confidences honest.

A network trained to zero loss is over-confident on anything it finds hard.  Dividing its logits by one
temperature T > 1, fitted by negative log-likelihood on predictions of subjects the model never trained on
(the pooled out-of-fold predictions of a leave-one-subject-out run), softens every confidence alike and keeps
every argmax, so accuracy is unchanged.  Log-probabilities serve as well as logits: they differ by a constant
per sample, which the softmax ignores.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import expected_calibration_error

T_RANGE = (0.05, 50.0)
_FLOOR = 1e-7  # probabilities are stored rounded; a logged 0 would be -inf


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def log_probabilities(probabilities) -> np.ndarray:
    """Log of stored probabilities, floored so that a rounded zero stays finite: usable as logits."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _FLOOR, 1.0))


def negative_log_likelihood(logits, labels, temperature: float = 1.0) -> float:
    """Mean NLL of the integer `labels` under softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    return float(-_log_softmax(z / temperature)[np.arange(len(y)), y].mean())


def scale(logits, temperature: float) -> np.ndarray:
    """softmax(logits / temperature), (N, C)."""
    return np.exp(_log_softmax(np.asarray(logits, dtype=np.float64) / temperature))


def fit_temperature(logits, labels, bounds: tuple[float, float] = T_RANGE) -> float:
    """The temperature minimising the NLL of `labels` (golden-section search on log T; the NLL is convex in 1/T)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if z.ndim != 2 or y.shape != (len(z),) or not len(z):
        raise ValueError(f"need logits (N, C) and N integer labels, got {z.shape} and {y.shape}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must index the {z.shape[1]} classes")
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = negative_log_likelihood(z, y, np.exp(a)), negative_log_likelihood(z, y, np.exp(b))
    for _ in range(80):  # shrinks the bracket by 0.618^80: far below float precision on log T
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = negative_log_likelihood(z, y, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = negative_log_likelihood(z, y, np.exp(b))
    return float(np.exp((lo + hi) / 2))


def calibration_report(logits, labels, temperature: float, n_bins: int = 10) -> dict:
    """NLL, ECE and mean confidence of right and wrong predictions, before and after the temperature."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    out: dict = {"temperature": round(float(temperature), 4), "n": int(len(y)), "bins": n_bins}
    for name, t in (("before", 1.0), ("after", temperature)):
        p = scale(z, t)
        conf, right = p.max(axis=1), p.argmax(axis=1) == y
        out[name] = {
            "nll": round(negative_log_likelihood(z, y, t), 4),
            "ece": round(expected_calibration_error(conf, right, n_bins), 4),
            "mean_confidence_right": round(float(conf[right].mean()), 4) if right.any() else None,
            "mean_confidence_wrong": round(float(conf[~right].mean()), 4) if (~right).any() else None,
        }
    return out


def labels_to_indices(labels: Sequence[str], class_names: Sequence[str]) -> np.ndarray:
    """Class names -> integer indices in `class_names` order (an unknown name is an error)."""
    index = {c: i for i, c in enumerate(class_names)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's classes {list(class_names)}")
    return np.array([index[l] for l in labels], dtype=np.int64)
