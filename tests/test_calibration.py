"""Temperature scaling: closed-form optimum, invariances and the report's figures."""
import numpy as np
import pytest

from learnet.calibration import (
    calibration_report,
    fit_temperature,
    labels_to_indices,
    log_probabilities,
    negative_log_likelihood,
    scale,
)


def _two_class(a: float, right: int, wrong: int):
    """Logits (+a, -a) for every sample; `right` of them labelled 0, `wrong` labelled 1."""
    z = np.tile([a, -a], (right + wrong, 1))
    y = np.array([0] * right + [1] * wrong)
    return z, y


def test_fit_temperature_matches_the_closed_form():
    # All samples share the logit gap 2a, so the NLL optimum makes the confidence equal the accuracy q:
    # sigmoid(2a / T) = q  =>  T = 2a / log(q / (1 - q)).
    a, right, wrong = 3.0, 8, 2
    z, y = _two_class(a, right, wrong)
    q = right / (right + wrong)
    expected = 2 * a / np.log(q / (1 - q))
    assert fit_temperature(z, y) == pytest.approx(expected, rel=1e-6)
    assert scale(z, expected)[0, 0] == pytest.approx(q, rel=1e-9)


def test_log_probabilities_fit_the_same_temperature_as_logits():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 4, (200, 3))
    y = rng.integers(0, 3, 200)
    p = scale(z, 1.0)
    assert fit_temperature(log_probabilities(p), y) == pytest.approx(fit_temperature(z, y), rel=1e-5)


def test_nll_closed_form_and_report_counts():
    z, y = _two_class(np.log(3.0) / 2, 3, 1)  # softmax gives p(class 0) = 3/4 exactly
    assert negative_log_likelihood(z, y) == pytest.approx(-(3 * np.log(0.75) + np.log(0.25)) / 4)
    report = calibration_report(z, y, 1.0)
    assert report["n"] == 4
    # One bin at confidence 0.75 holding accuracy 0.75: perfectly calibrated.
    assert report["before"]["ece"] == 0.0
    assert report["before"]["mean_confidence_wrong"] == 0.75


def test_temperature_keeps_every_argmax():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 5, (50, 3))
    for t in (0.3, 1.0, 7.0):
        assert (scale(z, t).argmax(1) == z.argmax(1)).all()


def test_bad_inputs_are_refused_with_a_sentence():
    with pytest.raises(ValueError, match="labels must index the 3 classes"):
        fit_temperature(np.zeros((2, 3)), [0, 3])
    with pytest.raises(ValueError, match=r"labels \['happy'\] are not among"):
        labels_to_indices(["happy"], ["negative", "positive", "surprise"])
    assert labels_to_indices(["surprise", "negative"], ["negative", "positive", "surprise"]).tolist() == [2, 0]
