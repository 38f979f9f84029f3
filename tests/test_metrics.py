"""Metrics against hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from learnet import metrics as M

LABELS = ["negative", "positive", "surprise"]


def test_confusion_matrix_rows_true_columns_predicted():
    cm = M.confusion_matrix(["negative", "negative", "positive", "surprise"],
                            ["negative", "surprise", "positive", "negative"], LABELS)
    assert cm.tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 0]]


def test_scores_hand_computed():
    # 10 samples: negative 5 (4 right, 1 -> positive), positive 3 (2 right, 1 -> surprise), surprise 2 (1 right,
    # 1 -> negative).
    y_true = ["negative"] * 5 + ["positive"] * 3 + ["surprise"] * 2
    y_pred = ["negative"] * 4 + ["positive"] + ["positive"] * 2 + ["surprise"] + ["surprise", "negative"]
    s = M.scores(y_true, y_pred, LABELS)
    # negative: TP 4, FP 1, FN 1 -> F1 8/10; positive: TP 2, FP 1, FN 1 -> 4/6; surprise: TP 1, FP 1, FN 1 -> 2/4
    assert s.f1 == pytest.approx({"negative": 0.8, "positive": 2 / 3, "surprise": 0.5})
    assert s.uf1 == pytest.approx((0.8 + 2 / 3 + 0.5) / 3)
    assert s.recall == pytest.approx({"negative": 0.8, "positive": 2 / 3, "surprise": 0.5})
    assert s.uar == pytest.approx((4 / 5 + 2 / 3 + 1 / 2) / 3)
    assert s.accuracy == pytest.approx(0.7) and s.n == 10
    assert s.support == {"negative": 5, "positive": 3, "surprise": 2} and s.absent == []


def test_class_absent_from_a_fold_still_counts():
    # Fold with no 'surprise' sample, but one sample wrongly predicted as surprise.
    s = M.scores(["negative", "negative", "positive"], ["negative", "surprise", "positive"], LABELS)
    # negative F1 = 2/(2+0+1) = 2/3, positive F1 = 1, surprise F1 = 0/(0+1+0) = 0
    assert s.uf1 == pytest.approx((2 / 3 + 1 + 0) / 3)  # 5/9, not the 5/6 of a 2-class average
    assert s.uar == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert s.absent == ["surprise"]
    # Absent and never predicted: 0/0 -> 0, and it still divides the mean.
    t = M.scores(["negative", "positive"], ["negative", "positive"], LABELS)
    assert (t.uf1, t.uar, t.accuracy) == pytest.approx((2 / 3, 2 / 3, 1.0))


def test_pooling_differs_from_averaging_folds():
    fold_a = (["negative", "negative"], ["negative", "negative"])
    fold_b = (["positive", "negative"], ["negative", "negative"])
    pooled = M.scores(fold_a[0] + fold_b[0], fold_a[1] + fold_b[1], ["negative", "positive"])
    # pooled: negative TP 3, FP 1 -> F1 6/7; positive TP 0, FN 1 -> 0
    assert pooled.uf1 == pytest.approx(3 / 7)
    assert pooled.accuracy == pytest.approx(0.75)


def test_per_group_tables_use_the_full_label_list():
    y_true = ["negative", "positive", "surprise", "negative"]
    y_pred = ["negative", "negative", "surprise", "negative"]
    groups = ["casme2/sub02", "casme2/sub01", "samm/006", "casme2/sub02"]
    table = M.per_group(y_true, y_pred, groups, LABELS)
    assert list(table) == ["casme2/sub01", "casme2/sub02", "samm/006"]
    assert table["casme2/sub02"].n == 2 and table["casme2/sub02"].accuracy == 1.0
    assert table["casme2/sub02"].uf1 == pytest.approx(1 / 3)  # only negative present: (1 + 0 + 0) / 3
    assert table["casme2/sub01"].uf1 == 0.0 and table["casme2/sub01"].labels == LABELS
    with pytest.raises(ValueError, match="3 group ids for 4 samples"):
        M.per_group(y_true, y_pred, groups[:3], LABELS)


def test_mean_std_over_seeds():
    assert M.mean_std([0.5, 0.7, 0.9]) == pytest.approx((0.7, 0.2))  # sample std, ddof = 1
    assert M.mean_std([0.6]) == (0.6, 0.0)
    runs = {0: M.scores(["negative"], ["negative"], LABELS), 1: M.scores(["negative"], ["positive"], LABELS)}
    summary = M.summarize_seeds(runs)
    assert summary["accuracy"] == pytest.approx({"mean": 0.5, "std": np.sqrt(0.5), "n": 2})
    assert M.format_mean_std(0.73456, 0.0123, 3) == "0.735 +- 0.012"
    assert M.format_mean_std(0.73456, 0.0, 1) == "0.735"
    with pytest.raises(ValueError, match="at least one value"):
        M.mean_std([])


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="label\\(s\\) happy not in the class list negative, positive, surprise"):
        M.scores(["happy"], ["negative"], LABELS)
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        M.scores(["negative", "negative"], ["negative"], LABELS)
    with pytest.raises(ValueError, match="does not fit 3 classes"):
        M.scores_from_confusion(np.eye(2), LABELS)


def test_scores_to_dict_is_json_able():
    import json

    s = M.scores(["negative", "positive"], ["negative", "negative"], LABELS)
    back = json.loads(json.dumps(s.to_dict()))
    assert back["confusion"] == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert back["absent_classes"] == ["surprise"]


def test_expected_calibration_error_closed_form():
    # Bin (0.5, 0.6]: confidences 0.55, 0.6 (mean 0.575), one right -> |0.5 - 0.575| = 0.075, weight 2/5.
    # Bin (0.9, 1.0]: confidences 0.95, 0.95, 1.0 (mean 0.9667), all right -> |1 - 0.9667| = 0.0333, weight 3/5.
    conf = [0.55, 0.6, 0.95, 0.95, 1.0]
    right = [True, False, True, True, True]
    assert M.expected_calibration_error(conf, right) == pytest.approx(0.4 * 0.075 + 0.6 * (1 - 2.9 / 3))
    # Perfectly calibrated within one bin, and the worst case: always sure, always wrong.
    assert M.expected_calibration_error([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)
    assert M.expected_calibration_error([1.0, 1.0], [False, False]) == pytest.approx(1.0)
    # One bin: |accuracy - mean confidence| over everything.
    assert M.expected_calibration_error(conf, right, n_bins=1) == pytest.approx(abs(0.8 - 4.05 / 5))
    with pytest.raises(ValueError, match="one correctness flag per confidence"):
        M.expected_calibration_error([0.5], [True, False])


def test_exact_messages_types_and_empty_cases():
    with pytest.raises(ValueError, match=r"^the class list has duplicates: \['a', 'b', 'a'\]$"):
        M.confusion_matrix(["a"], ["a"], ["a", "b", "a"])
    with pytest.raises(ValueError, match="^label\\(s\\) happy, sad not in the class list negative, positive, surprise$"):
        M.scores(["happy", "negative"], ["negative", "sad"], LABELS)
    assert M.confusion_matrix(["negative"], ["positive"], LABELS).dtype == np.int64
    from_floats = M.scores_from_confusion([[2.0, 0.0], [1.0, 1.0]], ["a", "b"])
    assert from_floats.confusion.dtype == np.int64 and from_floats.n == 4 and from_floats.accuracy == 0.75
    # no classes at all: scores are 0, not the NaN (and warning) of a mean over nothing
    empty = M.scores([], [], [])
    assert (empty.uf1, empty.uar, empty.accuracy, empty.n) == (0.0, 0.0, 0.0, 0)
    with pytest.raises(ValueError, match="^mean_std needs at least one value$"):
        M.mean_std([])


def test_to_dict_keys_and_values():
    s = M.scores(["negative", "positive"], ["negative", "negative"], LABELS)
    d = s.to_dict()
    assert list(d) == ["n", "accuracy", "uf1", "uar", "f1", "recall", "support", "labels", "confusion",
                       "absent_classes"]
    assert (d["n"], d["accuracy"], d["uf1"], d["uar"]) == (2, 0.5, pytest.approx(2 / 9), pytest.approx(1 / 3))
    assert d["f1"] == pytest.approx({"negative": 2 / 3, "positive": 0.0, "surprise": 0.0})
    assert d["recall"] == {"negative": 1.0, "positive": 0.0, "surprise": 0.0}
    assert d["support"] == {"negative": 1, "positive": 1, "surprise": 0} and d["labels"] == LABELS


def test_groups_of_mixed_types_sort_by_their_text():
    table = M.per_group(["negative"] * 3, ["negative"] * 3, [2, "a", 10], LABELS)
    assert list(table) == [10, 2, "a"]  # "10" < "2" < "a"


def test_format_mean_std_edges():
    assert M.format_mean_std(float("nan"), 0.0, 3) == "n/a"
    assert M.format_mean_std(0.5, 0.1, 2) == "0.500 +- 0.100"  # two seeds already have a spread
    assert M.format_mean_std(0.5, 0.1, 1, digits=1) == "0.5"


def test_expected_calibration_error_bins_and_input_checks():
    # Confidence 0 belongs to the first bin (with 0.1): accuracy 1/2, mean confidence 0.05 -> 0.45.
    assert M.expected_calibration_error([0.0, 0.1], [True, False]) == pytest.approx(0.45)
    assert M.expected_calibration_error([0.0], [False]) == 0.0
    # The default is 10 bins: 0.1 and 0.15 are in different bins (11 bins would join them).
    assert M.expected_calibration_error([0.1, 0.15], [True, False]) == pytest.approx(0.5 * 0.9 + 0.5 * 0.15)
    # the last two bins stay apart: (0.8, 0.9] and (0.9, 1] -> 0.5 * |1 - 0.85| + 0.5 * |0 - 0.95|
    assert M.expected_calibration_error([0.85, 0.95], [True, False]) == pytest.approx(0.55)
    bad = "^confidences must lie in \\[0, 1\\] and n_bins must be at least 1$"
    for conf, n_bins in (([1.5], 10), ([-0.1], 10), ([0.5], 0)):
        with pytest.raises(ValueError, match=bad):
            M.expected_calibration_error(conf, [True], n_bins=n_bins)
    with pytest.raises(ValueError, match="^expected_calibration_error needs at least one prediction$"):
        M.expected_calibration_error([], [])
