import zipfile

import cv2
import numpy as np
import pytest

from learnet.video import ClipError, ClipLimits, natural_key, read_clip, read_frames, write_video


def _frames(n=6, h=24, w=32):
    """Frames whose value encodes their index, so order can be checked after decoding."""
    return np.stack([np.full((h, w, 3), 20 * i + 10, np.uint8) for i in range(n)])


def _write_folder(folder, frames, names):
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(frames, names):
        cv2.imwrite(str(folder / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def test_natural_key_orders_numbers_by_value():
    names = ["img10.jpg", "img2.jpg", "img100.jpg", "img1.jpg", "reg_img9.jpg"]
    assert sorted(names, key=natural_key)[:4] == ["img1.jpg", "img2.jpg", "img10.jpg", "img100.jpg"]


def test_folder_reads_in_natural_order(tmp_path):
    frames = _frames(4)
    _write_folder(tmp_path / "clip", frames, ["img2.png", "img10.png", "img100.png", "img1.png"])
    clip = read_clip(tmp_path / "clip")
    # natural order is img1, img2, img10, img100 -> frame indices 3, 0, 1, 2
    assert clip.frames[:, 0, 0, 0].tolist() == [70, 10, 30, 50]
    assert clip.fps == 200.0 and clip.num_frames == 4 and clip.size == (24, 32)
    assert read_clip(tmp_path / "clip", fps=30).fps == 30.0


def test_rgb_order_and_grayscale_expansion(tmp_path):
    folder = tmp_path / "gray"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((8, 8), 40 * i, np.uint8))
    clip = read_clip(folder)
    assert clip.frames.shape == (3, 8, 8, 3)
    assert (clip.frames[..., 0] == clip.frames[..., 2]).all()
    red = np.zeros((2, 8, 8, 3), np.uint8)
    red[..., 0] = 200
    _write_folder(tmp_path / "red", red, ["a1.png", "a2.png"])
    assert read_clip(tmp_path / "red").frames[0, 0, 0].tolist() == [200, 0, 0]


def test_zip_of_frames_round_trip(tmp_path):
    frames = _frames(5)
    _write_folder(tmp_path / "clip", frames, [f"img{i + 1}.png" for i in range(5)])
    archive = tmp_path / "clip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in (5, 3, 1, 2, 4):  # stored out of order, inside a sub-folder
            z.write(tmp_path / "clip" / f"img{i}.png", f"EP01/img{i}.png")
    clip = read_clip(archive)
    np.testing.assert_array_equal(clip.frames, frames)


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".webm"])
def test_video_round_trip(tmp_path, suffix):
    frames = _frames(8, 32, 48)
    path = write_video(tmp_path / f"clip{suffix}", frames, fps=25)
    clip = read_clip(path)
    assert clip.frames.shape == (8, 32, 48, 3) and clip.fps == pytest.approx(25)
    # lossy codecs: flat frames come back within a few grey levels, in order
    assert np.abs(clip.frames[:, 16, 24, 0].astype(int) - frames[:, 16, 24, 0]).max() <= 6


def test_large_frames_are_downscaled_with_a_note(tmp_path):
    frames = np.zeros((2, 100, 300, 3), np.uint8)
    _write_folder(tmp_path / "big", frames, ["1.png", "2.png"])
    clip = read_clip(tmp_path / "big", limits=ClipLimits(max_long_side=150))
    assert clip.size == (50, 150) and "downscaled" in clip.notes[0]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.mp4", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "holds no image frames"),
        (lambda p: (p / "notes.txt").write_text("hi") and p / "notes.txt", "not a supported clip"),
        (lambda p: (p / "broken.mp4").write_bytes(b"\x00garbage" * 100) and p / "broken.mp4", "could not"),
        (lambda p: (p / "zero.mp4").write_bytes(b"") or p / "zero.mp4", "empty"),
        (lambda p: (p / "bad.zip").write_bytes(b"PK no zip") and p / "bad.zip", "not a valid zip"),
    ],
)
def test_bad_inputs_raise_clip_error_with_a_sentence(tmp_path, make, message):
    with pytest.raises(ClipError, match=message):
        read_clip(make(tmp_path))


def test_single_frame_and_mixed_sizes_are_rejected(tmp_path):
    _write_folder(tmp_path / "one", _frames(1), ["1.png"])
    with pytest.raises(ClipError, match="single frame"):
        read_clip(tmp_path / "one")
    cv2.imwrite(str(tmp_path / "photo.png"), _frames(1)[0])
    with pytest.raises(ClipError, match="single image"):
        read_clip(tmp_path / "photo.png")
    _write_folder(tmp_path / "mixed", [_frames(1)[0], _frames(1, 10, 10)[0]], ["1.png", "2.png"])
    with pytest.raises(ClipError, match="different sizes"):
        read_clip(tmp_path / "mixed")


def test_limits_on_frames_and_file_size(tmp_path):
    frames = _frames(6)
    _write_folder(tmp_path / "clip", frames, [f"{i}.png" for i in range(6)])
    with pytest.raises(ClipError, match="above the limit of 5"):
        read_clip(tmp_path / "clip", limits=ClipLimits(max_frames=5))
    path = write_video(tmp_path / "v.avi", frames, 30)
    with pytest.raises(ClipError, match="above the limit of 5"):
        read_clip(path, limits=ClipLimits(max_frames=5))
    with pytest.raises(ClipError, match="MB limit"):
        read_clip(path, limits=ClipLimits(max_file_bytes=100))
    with pytest.raises(ClipError, match="above the limit"):
        read_frames([tmp_path / "clip" / f"{i}.png" for i in range(6)], limits=ClipLimits(max_frames=3))


def test_corrupt_frame_in_folder(tmp_path):
    _write_folder(tmp_path / "clip", _frames(2), ["1.png", "2.png"])
    (tmp_path / "clip" / "3.png").write_bytes(b"not a png")
    with pytest.raises(ClipError, match="3.png could not be read"):
        read_clip(tmp_path / "clip")
