import numpy as np
import pytest
import torch

from learnet.dynamic import (
    DynamicImageAccumulator,
    dynamic_image,
    frame_window,
    harmonic_numbers,
    no_motion_level,
    rank_pooling_coefficients,
    to_input_uint8,
    to_model_input,
    to_uint8,
    uint8_to_input,
)

# reference.md section 3: the T = 10 coefficients, to 3 decimals.
T10 = [-12.219, -3.219, 0.281, 1.948, 2.698, 2.898, 2.731, 2.303, 1.678, 0.900]


def brute_force_alpha(T: int, variant: str = "bilen") -> np.ndarray:
    """alpha_t = sum_{j=t..T} (2j - T - 1)/j, or (2j - T)/j for the authors' variant."""
    shift = 1 if variant == "bilen" else 0
    return np.array([sum((2 * j - T - shift) / j for j in range(t, T + 1)) for t in range(1, T + 1)])


def test_t10_coefficients_match_reference_table():
    np.testing.assert_allclose(rank_pooling_coefficients(10), T10, atol=5e-4)


@pytest.mark.parametrize("T", [2, 3, 10, 57, 300])
@pytest.mark.parametrize("variant", ["bilen", "authors"])
def test_closed_form_matches_sum_definition(T, variant):
    np.testing.assert_allclose(rank_pooling_coefficients(T, variant), brute_force_alpha(T, variant), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("T", [2, 10, 200])
def test_coefficient_sums(T):
    assert abs(rank_pooling_coefficients(T).sum()) < 1e-9 * T
    # the released code's coefficients sum to T: a frame average leaks into its DI
    assert rank_pooling_coefficients(T, "authors").sum() == pytest.approx(T)


def test_single_frame_and_harmonics():
    assert rank_pooling_coefficients(1).tolist() == [1.0]
    np.testing.assert_allclose(harmonic_numbers(4), [0, 1, 1.5, 1.5 + 1 / 3, 1.5 + 1 / 3 + 0.25])
    with pytest.raises(ValueError, match="at least one frame"):
        rank_pooling_coefficients(0)
    with pytest.raises(ValueError, match="bilen, authors"):
        rank_pooling_coefficients(5, "nope")


@pytest.mark.parametrize("variant", ["bilen", "authors"])
@pytest.mark.parametrize("T", [2, 9, 64])
def test_closed_form_brute_force_and_streaming_agree(variant, T):
    frames = np.random.default_rng(T).integers(0, 256, size=(T, 12, 10, 3), dtype=np.uint8)
    alpha = brute_force_alpha(T, variant)
    reference = np.einsum("t,thwc->hwc", alpha, frames.astype(np.float64))
    closed = dynamic_image(frames, variant)
    streamed = dynamic_image(iter(frames), variant)
    scale = np.abs(reference).max()
    assert closed.shape == (12, 10, 3) and closed.dtype == np.float32
    assert np.abs(closed - reference).max() / scale < 1e-6
    assert np.abs(streamed - reference).max() / scale < 1e-6


def test_static_clip_gives_flat_dynamic_image():
    frame = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3)).astype(np.uint8)
    frames = np.repeat(frame[None], 25, axis=0)
    di = dynamic_image(frames)
    assert np.abs(di).max() < 1e-3 * 255
    assert to_uint8(di).max() == 0  # flat -> black, not amplified noise
    # the authors' variant keeps the static content: sum(alpha) * frame = T * frame
    np.testing.assert_allclose(dynamic_image(frames, "authors"), 25.0 * frame, rtol=1e-5)


def test_frame_order_matters():
    frames = np.random.default_rng(1).random((8, 6, 6, 3)).astype(np.float32)
    forward, backward = dynamic_image(frames), dynamic_image(frames[::-1])
    assert np.abs(forward - backward).max() > 0.1


def test_linear_ramp_points_forward():
    # brightness rising over time: the DI is positive where the scene brightens
    ramp = np.linspace(0, 1, 10, dtype=np.float32)[:, None, None, None] * np.ones((10, 4, 4, 3), np.float32)
    di = dynamic_image(ramp)
    assert (di > 0).all()
    expected = float(np.dot(rank_pooling_coefficients(10), np.linspace(0, 1, 10)))
    np.testing.assert_allclose(di, expected, rtol=1e-5)


def test_accumulator_errors_and_counts():
    acc = DynamicImageAccumulator()
    with pytest.raises(ValueError, match="no frames"):
        acc.result()
    acc.update(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="shape"):
        acc.update(np.zeros((5, 4, 3)))
    assert acc.count == 1


def test_uint8_and_model_input_scaling():
    di = np.array([[[-2.0, 0.0, 2.0]]], dtype=np.float32)
    assert to_uint8(di).tolist() == [[[0, 128, 255]]]
    x = to_model_input(di)
    assert x.shape == (3, 1, 1) and x.dtype == torch.float32
    np.testing.assert_allclose(x.flatten().numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(to_model_input(to_uint8(di)).flatten().numpy(), [0, 128 / 255, 1.0])


def test_signed_input_scaling_puts_no_motion_at_zero():
    di = np.array([[[-2.0, 0.0, 1.0]]], dtype=np.float32)
    # 128 + 127 * DI / max|DI|: -1 -> 1, 0 -> 128, 0.5 -> 191.5, rounded half to even -> 192
    assert to_input_uint8(di, "signed").tolist() == [[[1, 128, 192]]]
    x = to_model_input(di, "signed")
    np.testing.assert_allclose(x.flatten().numpy(), [-1.0, 0.0, 64 / 127], rtol=1e-6)
    assert torch.equal(x, to_model_input(to_input_uint8(di, "signed"), "signed"))  # float and cached agree
    flat = np.zeros((4, 4, 3), np.float32)
    assert (to_input_uint8(flat, "signed") == 128).all() and float(to_model_input(flat, "signed").abs().max()) == 0
    assert uint8_to_input(torch.tensor([0, 128, 255], dtype=torch.uint8), "signed").tolist() == pytest.approx(
        [-128 / 127, 0.0, 1.0])
    # Where no motion lands in the model input: -min / (max - min) for min-max, always 0 for signed.
    assert no_motion_level(di) == pytest.approx(2 / 3) and no_motion_level(di, "signed") == 0.0
    assert no_motion_level(flat) == 0.5
    assert to_input_uint8(di, "minmax").tolist() == to_uint8(di).tolist()
    with pytest.raises(ValueError, match="unknown input scaling 'zscore'; choose one of minmax, signed"):
        to_model_input(di, "zscore")


def test_frame_windows():
    assert frame_window(20) == slice(0, 20)
    assert frame_window(20, 2, 8, 15, "onset-offset") == slice(2, 16)
    assert frame_window(20, 2, 8, 15, "onset-apex") == slice(2, 9)
    assert frame_window(20, 2, 8, 15, "apex-offset") == slice(8, 16)
    assert frame_window(20, 2, None, 16, "onset-apex") == slice(2, 10)  # apex -> middle
    assert frame_window(20, 2, 2, 16, "onset-apex") == slice(2, 4)  # never a 1-frame window
    with pytest.raises(ValueError, match="onset < offset"):
        frame_window(20, 5, None, 30)
    with pytest.raises(ValueError, match="outside"):
        frame_window(20, 5, 2, 10)
    with pytest.raises(ValueError, match="onset-offset"):
        frame_window(20, window="middle")


def test_one_frame_dynamic_image_is_the_frame():
    frame = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    np.testing.assert_array_equal(dynamic_image(frame), frame[0].astype(np.float32))
    np.testing.assert_array_equal(dynamic_image(iter(frame)), frame[0].astype(np.float32))
