import re
import zipfile
from pathlib import Path

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


def _png(value: int, size: int = 4) -> bytes:
    ok, data = cv2.imencode(".png", np.full((size, size, 3), value, np.uint8))
    return data.tobytes()


def _declare_size(archive, size: int) -> None:
    """Rewrite the uncompressed size of every member in the local headers and the central directory, as a
    zip bomb (or a damaged zip) declares it."""
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + offset : start + offset + 4] = size.to_bytes(4, "little")
            start += 4
    archive.write_bytes(bytes(data))


def test_zip_members_come_out_in_natural_order(tmp_path):
    archive = tmp_path / "clip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in sorted(range(1, 11), key=lambda i: f"img{i}.png"):  # lexical: img1, img10, img2, ...
            z.writestr(f"EP01/img{i}.png", _png(10 * i))
    clip = read_clip(archive)
    assert clip.frames[:, 0, 0, 0].tolist() == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


def test_default_frame_limit_is_2000(tmp_path):
    assert ClipLimits().max_frames == 2000
    archive = tmp_path / "long.zip"
    frame = _png(7, 2)
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(2001):
            z.writestr(f"f{i}.png", frame)
    with pytest.raises(ClipError, match="^the zip long.zip holds 2001 frames, above the limit of 2000$"):
        read_clip(archive)


def test_zip_bomb_declaring_1_gib_is_refused_before_unpacking(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("frames/img1.png", bytes(4096))
        z.writestr("frames/img2.png", bytes(4096))
    _declare_size(archive, 2**30)
    assert archive.stat().st_size < 1000
    limits = ClipLimits()
    with pytest.raises(ClipError, match=r"^the zip bomb.zip holds frames/img1.png, which unpacks to 1024 MB, "
                                        r"above the 18.8 MB a frame may take; is it a zip bomb\?$"):
        read_clip(archive)
    assert limits.max_member_bytes == 4 * 3 * 1280**2 and limits.max_unpacked_bytes == 2000 * 3 * 1280**2


def test_zip_total_is_limited_by_frames_times_frame_size(tmp_path):
    limits = ClipLimits(max_frames=10, max_long_side=8)  # 192 bytes a frame, 1920 bytes in all
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(10):
            z.writestr(f"img{i}.png", bytes(700))  # each under the 768-byte member limit, 7000 in all
    with pytest.raises(ClipError, match="^the zip big.zip unpacks to 0 MB, above the 0 MB that 10 frames may take$"):
        read_clip(archive, limits=limits)


def test_zip_member_larger_than_declared_is_refused_naming_the_zip(tmp_path):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("img1.png", bytes(2**20))
        z.writestr("img2.png", bytes(2**20))
    _declare_size(archive, 100)  # the stream holds 1 MiB each
    with pytest.raises(ClipError, match="^the zip liar.zip could not be unpacked at img1.png: Bad CRC-32"):
        read_clip(archive)


def test_corrupt_zip_member_is_named_by_the_zip_not_a_temp_file(tmp_path):
    archive = tmp_path / "frames.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("clip/img1.png", _png(1))
        z.writestr("clip/img2.png", b"not a png")
    with pytest.raises(ClipError, match=r"^clip/img2.png in the zip frames.zip could not be read as an image"):
        read_clip(archive)


def test_zip_bomb_peak_memory_is_bounded(tmp_path):
    """A fresh process reads a 1 GiB-declaring bomb: refused, with its peak memory printed (goal < 500 MB)."""
    import subprocess
    import sys

    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("img1.png", bytes(4096))
        z.writestr("img2.png", bytes(4096))
    _declare_size(archive, 2**30)
    # The peak is read from /proc (VmHWM, reset by exec): getrusage's ru_maxrss survives exec and would report
    # the test runner's own size, hundreds of MB once torch is loaded.
    code = (
        "import sys\n"
        "from learnet.video import ClipError, read_clip\n"
        "try:\n    read_clip(sys.argv[1])\nexcept ClipError as e:\n    print('refused:', e)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(int(hwm.split()[1]) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(archive)], capture_output=True, text=True, check=True)
    refused, peak_mb = out.stdout.splitlines()
    print(f"\n1 GiB zip bomb: {refused}; peak RSS {peak_mb} MB")
    assert refused.startswith("refused: the zip bomb.zip holds img1.png") and int(peak_mb) < 500
    assert out.stderr == ""


def test_broken_video_leaves_ffmpeg_quiet(tmp_path):
    """FFmpeg's own "moov atom not found" line must not precede our one-line error."""
    import subprocess
    import sys

    frames = _frames(8, 32, 48)
    whole = write_video(tmp_path / "whole.mp4", frames, fps=25).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(whole[: len(whole) // 3])
    code = ("import sys\nfrom learnet.video import ClipError, read_clip\n"
            "try:\n    read_clip(sys.argv[1])\nexcept ClipError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cut.mp4")], capture_output=True, text=True)
    assert out.stdout == "cut.mp4 could not be opened as a video (corrupt file or unsupported format)\n"
    assert out.stderr == ""


# ---- phones: rotation, variable frame rate, codecs a browser cannot play ---------------------------------

def _ffmpeg(*args: str) -> None:
    import subprocess

    from learnet.video import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-nostdin", *args], check=True, timeout=120)


def _marked(n=6, h=48, w=64):
    """Landscape frames, black with a red block in the top-left corner."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    frames[:, :16, :16] = (255, 0, 0)
    return frames


@pytest.mark.parametrize("rotation, k", [(90, 1), (-90, -1), (180, 2)])
def test_rotated_phone_clips_are_read_upright(tmp_path, rotation, k):
    frames = _marked()
    write_video(tmp_path / "flat.mp4", frames, 30)
    # What a phone writes: landscape frames plus a display matrix (counter-clockwise degrees) in the container.
    _ffmpeg("-display_rotation", str(rotation), "-i", str(tmp_path / "flat.mp4"), "-c", "copy",
            str(tmp_path / "phone.mp4"))
    upright = np.rot90(read_clip(tmp_path / "flat.mp4").frames, k=k, axes=(1, 2))
    clip = read_clip(tmp_path / "phone.mp4")
    assert clip.frames.shape == upright.shape  # portrait for +-90: 64 high, 48 wide
    assert np.abs(clip.frames.astype(int) - upright).max() <= 2  # the same pixels, rotated: no re-encode


def test_variable_frame_rate_is_resampled_from_timestamps(tmp_path):
    from learnet.video import constant_rate_index

    n = 20
    frames = np.stack([np.full((48, 64, 3), 10 * t + 5, np.uint8) for t in range(n)])
    write_video(tmp_path / "cfr.mp4", frames, 30)
    # Frames 0-9 at 30 fps, then a dim stretch at 10 fps: frames 10-19 last 3 ticks of 1/30 s each.
    _ffmpeg("-i", str(tmp_path / "cfr.mp4"), "-vf", "setpts='if(lt(N,10),N,10+3*(N-10))/30/TB'",
            "-fps_mode", "passthrough", "-c:v", "libx264", "-crf", "0", str(tmp_path / "vfr.mp4"))
    clip = read_clip(tmp_path / "vfr.mp4")
    # 0.0 .. 1.2333 s at 1/30 s: 38 frames; frame 10 + j shows from tick 10 + 3j for three ticks.
    expected = list(range(11)) + [10 + (t - 10) // 3 for t in range(11, 38)]
    assert clip.fps == 30.0 and clip.num_frames == 38
    assert (np.round((clip.frames[:, 24, 32, 0].astype(float) - 5) / 10)).astype(int).tolist() == expected
    assert clip.notes == ["variable frame rate: 20 frames resampled from their timestamps to 38 frames at a "
                          "constant 30 fps"]
    assert read_clip(tmp_path / "cfr.mp4").num_frames == n  # constant rate: untouched
    assert read_clip(tmp_path / "vfr.mp4", fps=30).num_frames == n  # an explicit rate takes the frames as they are
    # Timing jitter within 25% is a constant rate; repeated or missing timestamps are not trusted.
    assert constant_rate_index([0, 33, 67, 100, 133]) is None
    assert constant_rate_index([0, 0, 0, 0]) is None
    index, fps = constant_rate_index([0, 10, 20, 50])
    assert index.tolist() == [0, 1, 2, 2, 2, 3] and fps == 100.0


@pytest.mark.parametrize("name, codec", [("clip.mp4", ["-c:v", "mpeg4"]), ("clip.avi", ["-c:v", "mjpeg"]),
                                         ("clip.mov", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
                                         ("clip.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p"])])
def test_unplayable_uploads_get_an_h264_preview(tmp_path, name, codec):
    from learnet.video import is_browser_playable, transcode_for_browser, video_stream_info

    frames = _marked(n=8, h=47, w=63)  # odd sides: H.264 4:2:0 needs even ones
    write_video(tmp_path / "src.avi", frames, 25)
    _ffmpeg("-i", str(tmp_path / "src.avi"), *codec, str(tmp_path / name))
    assert not is_browser_playable(tmp_path / name)
    preview = transcode_for_browser(tmp_path / name, tmp_path / "preview" / "clip.mp4")
    assert video_stream_info(preview) == {"codec": "h264", "pix_fmt": "yuv420p"}
    assert is_browser_playable(preview)
    shown = read_clip(preview)
    assert shown.num_frames == 8 and shown.size == (46, 62)
    assert not list((tmp_path / "preview").glob(".*"))  # no temporary file left


def test_playable_videos_need_no_preview(tmp_path):
    from learnet.video import is_browser_playable

    write_video(tmp_path / "h264.mp4", _marked(), 30)
    write_video(tmp_path / "vp8.webm", _marked(), 30)
    assert is_browser_playable(tmp_path / "h264.mp4") and is_browser_playable(tmp_path / "vp8.webm")
    (tmp_path / "text.mp4").write_text("not a video")
    assert not is_browser_playable(tmp_path / "text.mp4")


def test_failed_preview_is_one_sentence(tmp_path):
    from learnet.video import transcode_for_browser

    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ClipError, match=r"^broken.mp4 could not be converted for preview: ") as e:
        transcode_for_browser(tmp_path / "broken.mp4", tmp_path / "out.mp4")
    assert "\n" not in str(e.value) and not (tmp_path / "out.mp4").exists()


def test_the_page_previews_an_mp4v_upload_and_analyses_the_original(tmp_path):
    import gradio as gr

    from demo.handlers import DemoHandlers
    from learnet.video import video_stream_info

    frames = _marked(n=8)
    write_video(tmp_path / "src.avi", frames, 25)
    _ffmpeg("-i", str(tmp_path / "src.avi"), "-c:v", "mpeg4", "-q:v", "2", str(tmp_path / "phone.mp4"))
    h = DemoHandlers(None, "no model in this test", workdir=tmp_path / "work")
    preview = h.preview(str(tmp_path / "phone.mp4"))
    assert isinstance(preview, str) and preview.endswith("-phone-preview.mp4")
    assert video_stream_info(preview)["codec"] == "h264"
    # Gradio hands the preview back from its own cache folder, under the same file name.
    cached = tmp_path / "gradio-cache" / "abc123" / Path(preview).name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(Path(preview).read_bytes())
    assert h.clip_path(str(cached), None) == tmp_path / "phone.mp4"
    assert h.preview(str(cached)) == gr.skip()  # a preview is never previewed again
    write_video(tmp_path / "h264.mp4", frames, 25)
    assert h.preview(str(tmp_path / "h264.mp4")) == gr.skip()  # plays as it is
    assert h.preview(None) == gr.skip()


# ---- exact orders, messages, limits and conversions ---------------------------------------------------------

def _lexical(names):
    return sorted(names)  # what a plain sort gives: img1, img10, img11, img12, img2, ...


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_twelve_frames_come_out_in_numeric_order_ignoring_hidden_and_other_files(tmp_path, container):
    names = _lexical([f"img{i}.png" for i in range(1, 13)])
    assert names[:4] == ["img1.png", "img10.png", "img11.png", "img12.png"]
    value = {f"img{i}.png": 10 * i for i in range(1, 13)}
    if container == "folder":
        source = tmp_path / "EP01"
        source.mkdir()
        for name in names:
            (source / name).write_bytes(_png(value[name]))
        (source / ".img0.png").write_bytes(_png(250))  # hidden: skipped
        (source / "img13.png").mkdir()  # a folder named like a frame: skipped
        (source / "notes.txt").write_text("not a frame")
    else:
        source = tmp_path / "EP01.zip"
        with zipfile.ZipFile(source, "w") as z:
            z.writestr("EP01/", b"")  # the folder's own entry
            for name in names:
                z.writestr(f"EP01/{name}", _png(value[name]))
            z.writestr("EP01/.img0.png", _png(250))
            z.writestr("EP01/notes.txt", b"not a frame")
            z.writestr("__MACOSX/EP01/img0.png", _png(250))  # macOS resource forks: skipped
    clip = read_clip(source)
    assert clip.frames[:, 0, 0, 0].tolist() == [10 * i for i in range(1, 13)]
    assert (clip.source, clip.fps, clip.notes, clip.num_frames) == (str(source), 200.0, [], 12)
    assert read_clip(source, fps=30).fps == 30.0


def test_natural_key_is_case_insensitive_with_numbers_as_values():
    assert natural_key("IMG_12.PNG") == ("img_", 12, ".png")
    assert sorted(["b2", "A10", "a2", "B1"], key=natural_key) == ["a2", "A10", "B1", "b2"]


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_sixteen_bit_and_rgba_frames(tmp_path, container):
    deep = np.array([[0, 400, 600, 1000]], np.uint16)  # scaled by 255 / max: 0, 102, 153, 255
    tiny = np.array([[0, 1, 1, 0]], np.uint16)  # max 1: scaled by 255
    rgba = np.zeros((1, 4, 4), np.uint8) + np.array([10, 20, 30, 128], np.uint8)  # B, G, R, alpha as OpenCV writes
    images = {"f1.png": deep, "f2.png": tiny}
    encoded = {n: cv2.imencode(".png", im)[1].tobytes() for n, im in images.items()}
    if container == "folder":
        (tmp_path / "c").mkdir()
        for n, data in encoded.items():
            (tmp_path / "c" / n).write_bytes(data)
        source = tmp_path / "c"
    else:
        source = tmp_path / "c.zip"
        with zipfile.ZipFile(source, "w") as z:
            for n, data in encoded.items():
                z.writestr(n, data)
    frames = read_clip(source).frames
    assert frames[:, 0, :, 1].tolist() == [[0, 102, 153, 255], [0, 255, 255, 0]]
    assert (frames[..., 0] == frames[..., 2]).all()
    from learnet.video import read_image

    cv2.imwrite(str(tmp_path / "rgba.png"), rgba[..., :4].repeat(4, 0)[:4, :4])
    assert read_image(tmp_path / "rgba.png")[0, 0].tolist() == [30, 20, 10]


def test_downscaling_sizes_interpolation_and_one_note(tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (3, 100, 300, 3), np.uint8)
    _write_folder(tmp_path / "big", noise, ["1.png", "2.png", "3.png"])
    clip = read_clip(tmp_path / "big", limits=ClipLimits(max_long_side=150))
    assert clip.notes == ["frames downscaled to a long side of 150 px"]  # once, not per frame
    expected = cv2.resize(noise[0], (150, 50), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(clip.frames[0], expected)
    for limit in (300, 450):  # at or under the limit: untouched, no note
        same = read_clip(tmp_path / "big", limits=ClipLimits(max_long_side=limit))
        assert same.notes == [] and np.array_equal(same.frames, noise)
    for shape, size in [((300, 2), (150, 1)), ((2, 300), (1, 150))]:  # a side never shrinks below 1 px
        _write_folder(tmp_path / f"thin{shape}", np.zeros((2, *shape, 3), np.uint8), ["1.png", "2.png"])
        assert read_clip(tmp_path / f"thin{shape}", limits=ClipLimits(max_long_side=150)).size == size


def test_frame_stack_grows_trims_and_names_sizes():
    from learnet.video import _FrameStack

    stack = _FrameStack(2)
    frames = [np.full((2, 3, 3), i, np.uint8) for i in range(5)]
    for f in frames:
        stack.append(f)
    clip = stack.finish(25, "grown", ["n"])
    assert clip.frames.dtype == np.uint8 and clip.frames[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4]
    assert (clip.fps, clip.source, clip.notes) == (25.0, "grown", ["n"])
    stack = _FrameStack(10)
    for f in frames[:3]:
        stack.append(f)
    assert stack.finish(25, "short", []).num_frames == 3
    with pytest.raises(ClipError, match="^no frames could be decoded from nothing.mp4$"):
        _FrameStack().finish(25, "nothing.mp4", [])
    mixed = _FrameStack()
    for w in (5, 1, 4, 2, 3):
        mixed.append(np.zeros((10, w, 3), np.uint8))
    with pytest.raises(ClipError, match=r"^the frames of m have different sizes \(1x10, 2x10, 3x10, 4x10\); "
                                        r"all frames must match$"):
        mixed.finish(25, "m", [])


def test_read_frames_sources_limits_and_messages(tmp_path):
    _write_folder(tmp_path / "a", _frames(3), ["1.png", "2.png", "3.png"])
    _write_folder(tmp_path / "b", _frames(1), ["4.png"])
    paths = [tmp_path / "a" / "1.png", tmp_path / "b" / "4.png", tmp_path / "a" / "2.png"]
    assert read_frames(paths).source == str(tmp_path / "a")  # the first frame's folder
    assert read_frames(paths, limits=ClipLimits(max_frames=3)).num_frames == 3  # at the limit: accepted
    with pytest.raises(ClipError, match="^a list has 3 frames, above the limit of 2; select the expression window "
                                        "or raise ClipLimits.max_frames$"):
        read_frames(paths, limits=ClipLimits(max_frames=2), source="a list")
    with pytest.raises(ClipError, match="^no frames could be decoded from an empty frame list$"):
        read_frames([])
    (tmp_path / "none").mkdir()
    with pytest.raises(ClipError, match=r"^the folder .*none holds no image frames \(looked for \.bmp, \.jpeg, \.jpg, "
                                        r"\.png, \.tif, \.tiff\)$"):
        read_clip(tmp_path / "none")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ClipError, match=r"^notes.txt is not a supported clip: give a video \(\.avi, \.m4v, \.mkv, "
                                        r"\.mov, \.mp4, \.mpeg, \.mpg, \.webm\), a folder of frames or a zip of frames$"):
        read_clip(tmp_path / "notes.txt")
    from learnet.video import read_video

    with pytest.raises(ClipError, match=r"^.*a does not exist or is not a file$"):
        read_video(tmp_path / "a")


def test_file_size_limit_message_and_boundary(tmp_path):
    (tmp_path / "big.mp4").write_bytes(bytes(int(3.4 * 2**20)))
    with pytest.raises(ClipError, match=r"^big.mp4 is 3 MB, above the 1 MB limit; trim the clip or raise "
                                        r"ClipLimits.max_file_bytes$"):
        read_clip(tmp_path / "big.mp4", limits=ClipLimits(max_file_bytes=2**20))
    archive = tmp_path / "clip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("1.png", _png(1))
        z.writestr("2.png", _png(2))
    size = archive.stat().st_size
    assert read_clip(archive, limits=ClipLimits(max_file_bytes=size)).num_frames == 2  # exactly at the limit


def _padded_png(value: int, size: int) -> bytes:
    """A 4x4 PNG padded with zero bytes after its end to exactly `size` bytes (decoders ignore the padding)."""
    data = _png(value)
    return data + bytes(size - len(data))


def test_zip_limits_at_their_boundaries_and_messages(tmp_path):
    limits = ClipLimits(max_frames=8, max_long_side=8)  # 192 bytes a frame: 768 a member, 1536 in all
    archive = tmp_path / "edge.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("1.png", _padded_png(1, 768))
        z.writestr("2.png", _padded_png(2, 768))
    assert read_clip(archive, limits=limits).frames[:, 0, 0, 0].tolist() == [1, 2]
    limits = ClipLimits(max_frames=10, max_long_side=1000)  # 3e6 bytes a frame, 30e6 in all
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(3):
            z.writestr(f"{i}.png", b"x")
    _declare_size(archive, 11_000_000)
    with pytest.raises(ClipError, match="^the zip big.zip unpacks to 31 MB, above the 29 MB that 10 frames may take$"):
        read_clip(archive, limits=limits)
    for folders, listed in [(2, "a, b"), (4, "a, b, c")]:
        archive = tmp_path / f"folders{folders}.zip"
        with zipfile.ZipFile(archive, "w") as z:
            for f in "abcd"[:folders]:
                z.writestr(f"{f}/1.png", _png(1))
        with pytest.raises(ClipError, match=rf"^the zip folders{folders}.zip holds frames in {folders} folders "
                                            rf"\({listed}\.\.\.\); zip one clip per archive$"):
            read_clip(archive)
    archive = tmp_path / "text.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "no frames")
    with pytest.raises(ClipError, match="^the zip text.zip holds no image frames$"):
        read_clip(archive)
    archive = tmp_path / "hole.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("1.png", _png(1))
        z.writestr("2.png", b"")
    with pytest.raises(ClipError, match=r"^2.png in the zip hole.zip could not be read as an image \(missing, "
                                        r"corrupt or unsupported\)$"):
        read_clip(archive)


def test_zip_frames_over_a_chunk_and_downscaled(tmp_path):
    from learnet.video import _read_member

    noise = np.random.default_rng(1).integers(0, 256, (2, 700, 700, 3), np.uint8)
    data = [cv2.imencode(".png", f)[1].tobytes() for f in noise]
    assert min(map(len, data)) > 2**20  # read in more than one 1 MiB chunk
    archive = tmp_path / "noise.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, d in enumerate(data):
            z.writestr(f"{i}.png", d)
    clip = read_clip(archive, limits=ClipLimits(max_long_side=400))
    assert clip.notes == ["frames downscaled to a long side of 400 px"]
    expected = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), (400, 400), interpolation=cv2.INTER_AREA) for f in noise]
    np.testing.assert_array_equal(clip.frames, expected)
    with zipfile.ZipFile(archive) as z:
        member = z.getinfo("0.png")
        assert _read_member(z, member, 2**30, "noise.zip") == data[0]
        with pytest.raises(ClipError, match=rf"^the zip noise.zip is corrupt or a zip bomb: 0.png unpacks to more than "
                                            rf"its declared {len(data[0])} bytes$"):
            _read_member(z, member, 1000, "noise.zip")


def test_video_frame_limits_sizes_and_colour(tmp_path):
    from learnet.video import iter_clip_frames

    frames = _marked(n=6, h=48, w=64)
    path = write_video(tmp_path / "v.avi", frames, 30)
    assert read_clip(path, limits=ClipLimits(max_frames=6)).num_frames == 6  # at the limit: accepted
    with pytest.raises(ClipError, match=r"^v.avi has 6 frames, above the limit of 5; trim it to the expression "
                                        r"\(onset..offset\) or raise ClipLimits.max_frames$"):
        read_clip(path, limits=ClipLimits(max_frames=5))
    assert len(list(iter_clip_frames(path, ClipLimits(max_frames=6)))) == 6
    with pytest.raises(ClipError, match=r"^v.avi has more than 5 frames; trim it to the expression "
                                        r"\(onset..offset\) or raise ClipLimits.max_frames$"):
        list(iter_clip_frames(path, ClipLimits(max_frames=5)))
    clip = read_clip(path)
    assert clip.source == str(path) and clip.notes == []
    red = clip.frames[:, 4:12, 4:12].reshape(-1, 3).mean(axis=0)  # RGB order: the block is red, not blue
    assert red[0] > 200 and red[2] < 50, red
    portrait = write_video(tmp_path / "p.avi", np.ascontiguousarray(frames.transpose(0, 2, 1, 3)), 30)
    for video, size in [(path, (42, 56)), (portrait, (56, 42))]:  # long side 64 -> 56, either way round
        small = read_clip(video, limits=ClipLimits(max_long_side=56))
        assert small.size == size and small.notes == ["frames downscaled to a long side of 56 px"]
        assert read_clip(video, limits=ClipLimits(max_long_side=64)).notes == []


class _NoRateCapture:
    """cv2.VideoCapture reporting a given frame rate, as containers without one (or with nonsense) do."""

    rate = 0.0

    def __init__(self, *args):
        self._cap = _REAL_CAPTURE(*args)

    def get(self, prop):
        return self.rate if prop == cv2.CAP_PROP_FPS else self._cap.get(prop)

    def __getattr__(self, name):
        return getattr(self._cap, name)


_REAL_CAPTURE = cv2.VideoCapture


@pytest.mark.parametrize("reported, fps", [(0.0, 200.0), (10000.0, 200.0), (1.0, 1.0), (9999.0, 9999.0)])
def test_container_without_a_frame_rate_is_read_at_200_fps(tmp_path, monkeypatch, reported, fps):
    path = write_video(tmp_path / "v.avi", _frames(4), 30)
    monkeypatch.setattr(_NoRateCapture, "rate", reported)
    monkeypatch.setattr(cv2, "VideoCapture", _NoRateCapture)
    clip = read_clip(path)
    assert clip.fps == fps
    assert clip.notes == ([] if reported == fps else ["the container reports no frame rate; assuming 200 fps"])


def test_constant_rate_index_edge_cases():
    from learnet.video import constant_rate_index

    index, fps = constant_rate_index([0, 10, 30])  # three timestamps are enough; median step 15 ms
    assert index.tolist() == [0, 1, 2] and fps == 66.667
    index, fps = constant_rate_index([100, 110, 120, 150])  # the grid starts at the first timestamp
    assert index.tolist() == [0, 1, 2, 2, 2, 3] and fps == 100.0
    assert constant_rate_index([0, 10, 20, 30, 45])[0].tolist() == [0, 1, 2, 3, 3]  # 50% off the median
    assert constant_rate_index([0, 10, 20, 30, 45], tolerance=0.6) is None
    assert constant_rate_index([0, 10, 20, 30, 42.5]) is None  # exactly 25% off: still constant
    assert constant_rate_index([0, 10, 20, 20, 40]) is None  # a repeated timestamp: not trusted
    assert constant_rate_index([0, 0.5, 1.0, 1.5, 3.0])[0].tolist() == [0, 1, 2, 3, 3, 3, 4]  # sub-ms steps
    # A frame stamped a hair after its grid time (5 us, under 1e-3 of a step) still shows at that time.
    assert constant_rate_index([0, 10, 20, 30, 40.005, 60])[0].tolist() == [0, 1, 2, 3, 4, 4, 5]


def _no_imageio_ffmpeg(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import raises ImportError


def test_writers_codecs_folders_and_errors(tmp_path, monkeypatch):
    from learnet.video import ffmpeg_exe, video_stream_info

    frames = _frames(4, 40, 56)
    deep = write_video(tmp_path / "a" / "b" / "h264.mp4", frames, 25)  # missing folders are made
    assert video_stream_info(deep) == {"codec": "h264", "pix_fmt": "yuv420p"}
    assert read_clip(deep).size == (40, 56)  # no padding to 16 px blocks
    assert b"crf=18.0" in deep.read_bytes()  # x264 records its settings in the stream
    odd = write_video(tmp_path / "odd.mp4", _frames(4, 47, 64), 25)  # 4:2:0 H.264 needs even sides: MPEG-4
    assert video_stream_info(odd)["codec"] == "mpeg4"
    mkv = write_video(tmp_path / "c.mkv", frames, 25)
    assert video_stream_info(mkv)["codec"] == "mjpeg" and read_clip(mkv).num_frames == 4
    with pytest.raises(ValueError, match=r"^cannot write \.gif videos; use \.mp4, \.webm or \.avi$"):
        write_video(tmp_path / "c.gif", frames, 25)
    for bad, shape in [(frames[0], "(40, 56, 3) uint8"), (frames.astype(np.float32), "(4, 40, 56, 3) float32")]:
        with pytest.raises(ValueError, match=rf"^frames must be \(T, H, W, 3\) uint8, got {re.escape(shape)}$"):
            write_video(tmp_path / "x.avi", bad, 25)
    _no_imageio_ffmpeg(monkeypatch)
    fallback = write_video(tmp_path / "mp4v.mp4", frames, 25)  # without imageio-ffmpeg: OpenCV's MPEG-4
    assert read_clip(fallback).num_frames == 4
    with pytest.raises(ClipError, match=r"^previewing this video needs imageio-ffmpeg \(pip install imageio-ffmpeg\)$"):
        ffmpeg_exe()


def test_full_range_h264_plays_and_preview_errors_are_exact(tmp_path):
    from learnet.video import is_browser_playable, transcode_for_browser

    write_video(tmp_path / "src.avi", _marked(), 30)
    _ffmpeg("-i", str(tmp_path / "src.avi"), "-c:v", "libx264", "-pix_fmt", "yuvj420p", str(tmp_path / "j.mp4"))
    assert is_browser_playable(tmp_path / "j.mp4")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ClipError, match=r"^broken.mp4 could not be converted for preview: [^\n]*Invalid data "
                                        r"found when processing input$"):  # ffmpeg's last line
        transcode_for_browser(tmp_path / "broken.mp4", tmp_path / "out.mp4")
    with pytest.raises(ClipError, match=r"^src.avi could not be converted for preview within 0 s$"):
        transcode_for_browser(tmp_path / "src.avi", tmp_path / "out.mp4", timeout=1e-4)
    preview = transcode_for_browser(tmp_path / "src.avi", tmp_path / "p" / "q" / "clip.mp4")
    assert read_clip(preview).size == (48, 64)
