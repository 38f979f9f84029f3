"""Micro-expression recognition metrics, computed the MEGC way: pool the predictions of all LOSO folds first.

    F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)      UF1 = mean_c F1_c
    R_c  = TP_c / N_c                            UAR = mean_c R_c
    accuracy = sum_c TP_c / N

Every function takes the full class list: a class that is absent (from a fold, or from a subset such as one
dataset of a composite) still counts, with F1 = 0 and recall = 0 when nothing can be said about it (0/0).
That keeps per-subset scores comparable and never silently averages over fewer classes.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

METRICS: tuple[str, ...] = ("uf1", "uar", "accuracy")


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """(C, C) int64 counts, rows = true class, columns = predicted class, in the order of `labels`.

    Raises:
        ValueError: lengths differ, or a label is not in `labels`.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    index = {c: i for i, c in enumerate(labels)}
    if len(index) != len(labels):
        raise ValueError(f"the class list has duplicates: {list(labels)}")
    unknown = sorted({str(y) for y in list(y_true) + list(y_pred) if y not in index})
    if unknown:
        raise ValueError(f"label(s) {', '.join(unknown)} not in the class list {', '.join(map(str, labels))}")
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        cm[index[t], index[p]] += 1
    return cm


@dataclass
class Scores:
    """Pooled scores of one set of predictions; per-class values are keyed by class name."""

    labels: list[str]
    confusion: np.ndarray
    n: int
    accuracy: float
    uf1: float
    uar: float
    f1: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)

    @property
    def absent(self) -> list[str]:
        """Classes with no true sample here (they still count in UF1/UAR, as 0)."""
        return [c for c in self.labels if self.support[c] == 0]

    def to_dict(self) -> dict:
        """JSON-able form."""
        return {
            "n": self.n, "accuracy": self.accuracy, "uf1": self.uf1, "uar": self.uar,
            "f1": self.f1, "recall": self.recall, "support": self.support, "labels": list(self.labels),
            "confusion": self.confusion.tolist(), "absent_classes": self.absent,
        }


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0  # 0/0: nothing right to count, so 0 (absent classes count)


def scores_from_confusion(cm: np.ndarray, labels: Sequence[str]) -> Scores:
    """Accuracy, UF1, UAR and per-class F1/recall from a confusion matrix (rows true, columns predicted)."""
    cm = np.asarray(cm, dtype=np.int64)
    if cm.shape != (len(labels), len(labels)):
        raise ValueError(f"confusion matrix {cm.shape} does not fit {len(labels)} classes")
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    fp, fn = predicted - tp, support - tp
    f1 = [_ratio(2 * tp[i], 2 * tp[i] + fp[i] + fn[i]) for i in range(len(labels))]
    recall = [_ratio(tp[i], support[i]) for i in range(len(labels))]
    n = int(cm.sum())
    return Scores(
        labels=list(labels), confusion=cm, n=n, accuracy=_ratio(tp.sum(), n),
        uf1=float(np.mean(f1)) if len(labels) else 0.0, uar=float(np.mean(recall)) if len(labels) else 0.0,
        f1=dict(zip(labels, f1)), recall=dict(zip(labels, recall)),
        support={c: int(s) for c, s in zip(labels, support)},
    )


def scores(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> Scores:
    """Pooled accuracy, UF1 and UAR over the full class list `labels` (absent classes count)."""
    return scores_from_confusion(confusion_matrix(y_true, y_pred, labels), labels)


def per_group(
    y_true: Sequence[str], y_pred: Sequence[str], groups: Sequence[Hashable], labels: Sequence[str]
) -> dict[Hashable, Scores]:
    """Scores per group (subject, or dataset of a composite), each over the full class list, groups sorted."""
    if len(groups) != len(y_true):
        raise ValueError(f"{len(groups)} group ids for {len(y_true)} samples")
    out = {}
    for g in sorted(set(groups), key=str):
        idx = [i for i, x in enumerate(groups) if x == g]
        out[g] = scores([y_true[i] for i in idx], [y_pred[i] for i in idx], labels)
    return out


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0.0 for a single value) of per-seed results."""
    if not len(values):
        raise ValueError("mean_std needs at least one value")
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def summarize_seeds(per_seed: Mapping[Hashable, Scores]) -> dict[str, dict[str, float]]:
    """{metric: {"mean", "std", "n"}} over seeds, for UF1, UAR and accuracy."""
    out = {}
    for metric in METRICS:
        mean, std = mean_std([getattr(s, metric) for s in per_seed.values()])
        out[metric] = {"mean": mean, "std": std, "n": len(per_seed)}
    return out


def format_mean_std(mean: float, std: float, n: int, digits: int = 3) -> str:
    """`0.735 +- 0.012` for several seeds, `0.735` for one; NaN shows as `n/a`."""
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if n <= 1 else f"{mean:.{digits}f} +- {std:.{digits}f}"


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """Expected calibration error over `n_bins` equal-width confidence bins (Guo et al., ICML 2017).

    ECE = sum_b (n_b / N) |accuracy_b - mean confidence_b|; bin b holds confidences in (b/n, (b+1)/n], the
    first also 0.  `confidences` are the top-class probabilities, `correct` whether that class was right.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape or conf.ndim != 1:
        raise ValueError(f"need one correctness flag per confidence, got {conf.shape} and {hit.shape}")
    if not len(conf):
        raise ValueError("expected_calibration_error needs at least one prediction")
    if n_bins < 1 or (conf < 0).any() or (conf > 1).any():
        raise ValueError("confidences must lie in [0, 1] and n_bins must be at least 1")
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        inside = bins == b
        ece += inside.sum() / len(conf) * abs(hit[inside].mean() - conf[inside].mean())
    return float(ece)
