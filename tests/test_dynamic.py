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


@pytest.mark.parametrize("T", [2, 3, 10, 45])
def test_linear_ramp_has_a_closed_form(T):
    # Brightness rising linearly, I_t = (t - 1) / (T - 1): the DI is positive where the scene brightens, and
    # sum_t t alpha_t = sum_j (2j - T - 1)/j * j(j + 1)/2 = T(T^2 - 1)/12, so DI = T(T + 1)/12 everywhere
    # (T = 10: 110/12 = 9.1667).  45 frames also crosses the 32-frame chunks of `dynamic_image`.
    ramp = np.linspace(0, 1, T, dtype=np.float32)[:, None, None, None] * np.ones((T, 4, 4, 3), np.float32)
    for di in (dynamic_image(ramp), dynamic_image(iter(ramp))):
        np.testing.assert_allclose(di, T * (T + 1) / 12, rtol=1e-5)
    # consistency with the coefficients the code uses
    expected = float(np.dot(rank_pooling_coefficients(T), np.linspace(0, 1, T)))
    np.testing.assert_allclose(dynamic_image(ramp), expected, rtol=1e-5)


def test_two_and_three_frame_clips_by_hand():
    # T = 2: alpha = [-1 + 1/2, 1/2] = [-1/2, 1/2].  T = 3: alpha_t = sum_{j=t..3} (2j - 4)/j = [-4/3, 2/3, 2/3].
    a, b, c = (np.full((2, 2, 3), v, np.float32) for v in (10.0, 40.0, 70.0))
    np.testing.assert_allclose(dynamic_image(np.stack([a, b])), 15.0, rtol=1e-6)  # (40 - 10) / 2
    np.testing.assert_allclose(dynamic_image(np.stack([a, b, c])), (-4 * 10 + 2 * 40 + 2 * 70) / 3, rtol=1e-6)
    np.testing.assert_allclose(dynamic_image(iter([a, b, c])), 60.0, rtol=1e-6)
    # the authors' variant adds H_T - H_{t-1}: T = 2 -> [-1/2 + 3/2, 1/2 + 1/2] = [1, 1], so 10 + 40 = 50
    np.testing.assert_allclose(dynamic_image(np.stack([a, b]), "authors"), 50.0, rtol=1e-6)
    np.testing.assert_allclose(dynamic_image(iter([a, b]), "authors"), 50.0, rtol=1e-6)
    np.testing.assert_allclose(rank_pooling_coefficients(3), [-4 / 3, 2 / 3, 2 / 3], rtol=1e-12)


def test_output_dtypes_and_error_messages():
    frames = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    for clip in (frames, frames[:1]):  # one frame returns the frame itself, as float32 too
        assert dynamic_image(clip).dtype == np.float32 and dynamic_image(iter(clip)).dtype == np.float32
    with pytest.raises(ValueError, match=r"^frames must be \(T, H, W, C\), got shape \(4, 4\)$"):
        dynamic_image(np.zeros((4, 4)))
    acc = DynamicImageAccumulator()
    with pytest.raises(ValueError, match="^no frames were given: a dynamic image needs at least one frame$"):
        acc.result()
    acc.update(np.zeros((4, 4, 3)))
    acc.update(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"^frame 3 has shape \(5, 4, 3\), earlier frames \(4, 4, 3\)$"):
        acc.update(np.zeros((5, 4, 3)))


def test_accumulator_errors_and_counts():
    acc = DynamicImageAccumulator()
    with pytest.raises(ValueError, match="no frames"):
        acc.result()
    acc.update(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="shape"):
        acc.update(np.zeros((5, 4, 3)))
    assert acc.count == 1


def test_flat_threshold_of_display_scaling():
    # A DI whose range is at most 1e-6 of max(1, |DI|) is flat (no motion): black, not amplified round-off.
    # (the last case sits exactly on the threshold: range 1 = 1e-6 * 1e6, still flat)
    for flat in ([0.0, 1e-7], [1000.0, 1000.0 + 2**-13], [0.0, 1e-6 * 0.99], [999999.0, 1e6]):
        out = to_uint8(np.array(flat, np.float32).reshape(1, 2, 1))
        assert out.tolist() == [[[0], [0]]] and out.dtype == np.uint8
    for moving in ([0.0, 1.5e-6], [-0.25, 0.25], [999.0, 1000.0]):
        assert to_uint8(np.array(moving, np.float32).reshape(1, 2, 1)).tolist() == [[[0], [255]]]
    zero = to_uint8(np.zeros((3, 2, 3), np.float32))
    assert zero.shape == (3, 2, 3) and zero.dtype == np.uint8 and not zero.any()
    # float64 DIs become float32 model input, as the network's weights are
    assert to_model_input(np.array([[[0.0, 1.0, 2.0]]])).dtype == torch.float32


def test_signed_scaling_of_small_and_flat_dynamic_images():
    small = np.array([[[-0.5, 0.0, 0.25]]], np.float32)  # max|DI| below 1 still spans the whole signed range
    assert to_input_uint8(small, "signed").tolist() == [[[1, 128, 192]]]
    flat = to_input_uint8(np.zeros((2, 2, 3), np.float32), "signed")
    assert flat.dtype == np.uint8 and (flat == 128).all()
    empty = to_input_uint8(np.zeros((0, 0, 3), np.float32), "signed")
    assert empty.shape == (0, 0, 3) and empty.dtype == np.uint8
    # the default scaling is the paper's min-max, in both directions
    assert to_input_uint8(small).tolist() == [[[0, 170, 255]]]  # (0.5 / 0.75) * 255 = 170
    assert uint8_to_input(torch.tensor([0, 51, 255], dtype=torch.uint8)).tolist() == pytest.approx([0.0, 0.2, 1.0])


def test_no_motion_level_edges():
    # -min / (max - min), clipped to [0, 1]; a range of at most 1e-12 * max(1, |max|) is flat (0.5)
    assert no_motion_level(np.array([-0.25, 0.5])) == pytest.approx(1 / 3)
    assert no_motion_level(np.array([1.0, 3.0])) == 0.0  # all brighter than no motion
    assert no_motion_level(np.array([-3.0, -1.0])) == 1.0  # all darker
    assert no_motion_level(np.array([0.0, 1e-12])) == 0.5
    assert no_motion_level(np.array([0.0, 1.5e-12])) == 0.0
    assert no_motion_level(np.array([1000.0, 1000.0 + 1e-10])) == 0.5


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
    assert frame_window(20, 2, None, 15, "onset-apex") == slice(2, 9)  # apex -> (2 + 15) // 2 = 8, an integer
    assert isinstance(frame_window(20, 2, None, 15, "onset-apex").stop, int)
    assert frame_window(20, 2, 15, 15, "apex-offset") == slice(14, 16)  # apex at the offset: still 2 frames
    assert frame_window(20, 2, 14, 15, "apex-offset") == slice(14, 16)
    assert frame_window(20, 0, None, 19) == slice(0, 20)
    with pytest.raises(ValueError, match="onset < offset"):
        frame_window(20, 5, None, 30)
    for onset, offset in ((5, 5), (0, 20), (-1, 5)):
        with pytest.raises(ValueError, match=rf"^need 0 <= onset < offset < 20 \(frames in the clip\), got "
                                             rf"onset={onset}, offset={offset}$"):
            frame_window(20, onset, None, offset)
    with pytest.raises(ValueError, match=r"^apex 2 lies outside onset..offset \(5..10\)$"):
        frame_window(20, 5, 2, 10)
    with pytest.raises(ValueError, match="^unknown frame window 'middle'; choose one of onset-offset, onset-apex, "
                                         "apex-offset$"):
        frame_window(20, window="middle")
    with pytest.raises(ValueError, match="^the clip has no frames$"):
        frame_window(0)
    with pytest.raises(ValueError, match="^need 0 <= onset < offset < 1"):  # one frame: no motion to pool
        frame_window(1)


def test_one_frame_dynamic_image_is_the_frame():
    frame = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    np.testing.assert_array_equal(dynamic_image(frame), frame[0].astype(np.float32))
    np.testing.assert_array_equal(dynamic_image(iter(frame)), frame[0].astype(np.float32))
