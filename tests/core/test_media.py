"""core.media against synthetic media whose content is known frame by frame and sample by sample."""
from __future__ import annotations

import math

import av
import numpy as np
import pytest
from PIL import Image

from core.errors import BadInputError
from core.media import (
    VideoWriter,
    classify,
    count_output_frames,
    frames_needed,
    iter_video_batches,
    iter_video_frames,
    load_audio,
    load_image,
    probe,
    save_wav,
)
from tests.samples import (
    counter_frame,
    frame_times,
    make_tone,
    make_video,
    read_counter,
    speech_wav,
    talking_clip,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    return {
        "video": make_video(root / "clip.mp4", seconds=3.0, fps=30, tone_hz=440.0),
        "silent": make_video(root / "silent.mp4", seconds=1.0, fps=25, tone_hz=None),
        "mkv": make_video(root / "clip.mkv", seconds=2.0, fps=30, tone_hz=440.0),
        "vfr": make_video(root / "vfr.mp4", seconds=3.0, fps=30, tone_hz=None, vfr=True),
        "root": root,
    }


def expected_indices(times: list[float], n_out: int, fps: float, start: float = 0.0) -> list[int]:
    """Hand-computed rule: output k shows the last source frame with time <= start + k/fps."""
    out = []
    for k in range(n_out):
        t = start + k / fps
        out.append(max([j for j, tj in enumerate(times) if tj <= t + 1e-6], default=0))
    return out


def dominant_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spectrum) * sr / y.size)


# ---------------------------------------------------------------- probe / classify


def test_probe_video_facts(media):
    info = probe(media["video"])
    assert info.kind == "video" and classify(media["video"]) == "video"
    assert (info.width, info.height, info.rotation) == (160, 120, 0)
    assert info.fps == pytest.approx(30.0) and not info.vfr
    assert info.video_duration == pytest.approx(3.0, abs=1e-3) and info.frame_count == 90
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.has_audio and info.audio_rate == 44100 and info.audio_channels == 1
    assert [s.type for s in info.streams] == ["video", "audio"]


def test_probe_audio_only_mp4_is_audio(tmp_path):
    path = make_tone(tmp_path / "voice.m4a", 1.0)
    info = probe(path)
    assert info.kind == "audio" and classify(path) == "audio"
    assert info.audio_duration == pytest.approx(1.0, abs=0.03) and info.audio_rate == 16000


def _mp3_with_cover_art(path):
    """An MP3 whose cover picture FFmpeg exposes as a one-packet 'video' stream."""
    import io
    from fractions import Fraction

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (255, 0, 0)).save(buf, "PNG")
    y = (0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    with av.open(str(path), "w") as out:
        audio = out.add_stream("libmp3lame", rate=16000)
        audio.codec_context.layout = "mono"
        cover = out.add_stream("png")
        cover.width, cover.height, cover.pix_fmt = 32, 32, "rgb24"
        cover.disposition = av.stream.Disposition.attached_pic
        packet = av.Packet(buf.getvalue())
        packet.stream, packet.pts, packet.dts = cover, 0, 0
        out.mux(packet)
        for pos in range(0, y.size, 1152):
            frame = av.AudioFrame.from_ndarray(y[None, pos : pos + 1152].copy(), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, pos, Fraction(1, 16000)
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def test_music_with_cover_art_is_audio(tmp_path):
    path = _mp3_with_cover_art(tmp_path / "song.mp3")
    info = probe(path)
    assert info.kind == "audio" and [s.attached_pic for s in info.streams] == [False, True]
    assert load_audio(path).size == pytest.approx(16000, abs=160)


def test_mkv_video_end_comes_from_packets(media):
    info = probe(media["mkv"])  # Matroska has no per-stream duration; AAC padding makes the file longer
    assert info.video_duration == pytest.approx(2.0, abs=1e-3)
    assert count_output_frames(info, 25.0) == 50


# ---------------------------------------------------------------- video decode


@pytest.mark.parametrize("ext", ["mov", "mkv", "ts", "avi"])
def test_other_containers(tmp_path, ext):
    """MPEG-TS starts its clock late and lets AAC priming precede the picture; AVI has no presentation times."""
    path = make_video(tmp_path / f"clip.{ext}", seconds=2.0, fps=30)
    info = probe(path)
    assert info.video_duration == pytest.approx(2.0, abs=1e-3) and info.fps == pytest.approx(30.0)
    expected = [math.floor(k * 30 / 25 + 1e-9) for k in range(50)]
    assert [read_counter(f) for f in iter_video_frames(path)] == expected
    assert [read_counter(f) for f in iter_video_frames(path, start=1.0, end=1.5)] == expected[25:38]
    y = load_audio(path, start=0.5, end=1.5)
    assert y.size == 16000 and dominant_hz(y, 16000) == pytest.approx(440.0, abs=2.0)
    padding = 0.05 if ext == "avi" else 0.025  # AAC end padding; AVI cannot signal the 1024-sample priming either
    assert abs(load_audio(path).size - 32000) <= padding * 16000


def test_webm_vp9_opus(tmp_path):
    path = make_video(tmp_path / "screen.webm", seconds=1.0, fps=30, tone_hz=1000.0)
    info = probe(path)
    assert (info.video_codec, info.audio_codec, info.audio_rate) == ("vp9", "opus", 48000)
    assert info.video_duration == pytest.approx(1.0, abs=1e-3)
    frames = list(iter_video_frames(path, fps=25.0))
    assert [read_counter(f) for f in frames] == [math.floor(k * 30 / 25 + 1e-9) for k in range(25)]
    y = load_audio(path, sr=16000)
    assert abs(y.size - 16000) <= 160 and dominant_hz(y, 16000) == pytest.approx(1000.0, abs=2.0)


def test_30fps_decodes_to_25fps_by_timestamp(media):
    info = probe(media["video"])
    frames = list(iter_video_frames(media["video"], fps=25.0))
    assert len(frames) == count_output_frames(info, 25.0) == 75
    assert all(f.shape == (120, 160, 3) and f.dtype == np.uint8 for f in frames)
    # 30 -> 25 fps drops every sixth source frame: 0 1 2 3 4 6 7 8 9 10 12 ...
    assert [read_counter(f) for f in frames] == [math.floor(k * 30 / 25 + 1e-9) for k in range(75)]
    assert np.abs(frames[7].astype(int) - counter_frame(8, (160, 120))).mean() < 3


def test_upsampling_duplicates_frames(media):
    frames = list(iter_video_frames(media["silent"], fps=50.0))  # 25 fps source
    assert [read_counter(f) for f in frames] == [k // 2 for k in range(50)]
    frames[0][:] = 0  # a duplicate must not share memory with the frame already handed out
    assert frames[1].max() == 255


def test_trim_range(media):
    info = probe(media["video"])
    frames = list(iter_video_frames(media["video"], fps=25.0, start=1.0, end=2.0))
    assert len(frames) == count_output_frames(info, 25.0, 1.0, 2.0) == 25
    assert [read_counter(f) for f in frames] == [math.floor((1.0 + k / 25) * 30 + 1e-9) for k in range(25)]
    tail = list(iter_video_frames(media["video"], fps=25.0, start=0.5))
    assert len(tail) == count_output_frames(info, 25.0, 0.5) == 63  # ceil(2.5 * 25)
    assert read_counter(tail[0]) == 15 and read_counter(tail[-1]) == 89


def test_batches_match_frames(media):
    batches = list(iter_video_batches(media["video"], 16, fps=25.0, start=0.0, end=2.0))
    assert [b.shape[0] for b in batches] == [16, 16, 16, 2]
    assert all(b.shape[1:] == (120, 160, 3) for b in batches)
    joined = np.concatenate(batches)
    single = np.stack(list(iter_video_frames(media["video"], fps=25.0, end=2.0)))
    assert np.array_equal(joined, single)


def test_vfr_input_follows_timestamps(media):
    info = probe(media["vfr"])
    assert info.vfr
    times = frame_times(3.0, 30, vfr=True)
    n = count_output_frames(info, 25.0)
    assert n == math.ceil(info.video_duration * 25 - 1e-6) == 76
    frames = list(iter_video_frames(media["vfr"], fps=25.0))
    assert len(frames) == n
    assert [read_counter(f) for f in frames] == expected_indices(times, n, 25.0)


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotated_video_comes_out_upright(tmp_path, rotation):
    path = make_video(tmp_path / f"rot{rotation}.mp4", seconds=0.4, fps=25, tone_hz=None, rotation=rotation)
    info = probe(path)
    assert info.rotation == rotation
    assert (info.stored_width, info.stored_height) == (120, 160) and (info.width, info.height) == (160, 120)
    frames = list(iter_video_frames(path, fps=25.0))
    assert all(f.shape == (120, 160, 3) for f in frames)
    assert [read_counter(f) for f in frames] == list(range(10))
    assert np.abs(frames[0].astype(int) - counter_frame(0, (160, 120))).mean() < 3  # red block bottom-left


# ---------------------------------------------------------------- audio


@pytest.mark.parametrize("ext", ["wav", "mp3", "m4a", "ogg", "flac"])
def test_audio_formats_load_at_16k(tmp_path, ext):
    path = make_tone(tmp_path / f"tone.{ext}", 2.0, sr=16000, hz=440.0, onset=0.5)
    y = load_audio(path, sr=16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - 32000) <= 160  # within 10 ms of 2 s
    assert abs(int(np.argmax(np.abs(y) > 0.1)) - 8000) <= 16  # the tone starts at 0.5 s
    assert dominant_hz(y[8000:], 16000) == pytest.approx(440.0, abs=2.0)
    part = load_audio(path, sr=16000, start=0.25, end=1.25)
    assert part.size == 16000
    assert abs(int(np.argmax(np.abs(part) > 0.1)) - 4000) <= 16


def test_audio_track_of_video(media):
    y = load_audio(media["video"], sr=16000)
    assert abs(y.size - 48000) <= 160
    assert dominant_hz(y, 16000) == pytest.approx(440.0, abs=2.0)
    y22 = load_audio(media["video"], sr=22050, start=1.0, end=2.0)
    assert y22.size == 22050 and dominant_hz(y22, 22050) == pytest.approx(440.0, abs=2.0)


def test_save_wav_roundtrip(tmp_path):
    y = (0.3 * np.sin(2 * np.pi * 300 * np.arange(8000) / 8000)).astype(np.float32)
    out = save_wav(tmp_path / "out.wav", y, 8000)
    assert np.abs(load_audio(out, sr=8000) - y).max() < 1.0 / 16000
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


# ---------------------------------------------------------------- bad input


def test_bad_inputs_raise_one_line_errors(tmp_path, media):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    good = media["video"].read_bytes()
    (tmp_path / "cut.mp4").write_bytes(good[: len(good) // 2])
    cases = [
        (lambda: probe(tmp_path / "missing.mp4"), "missing.mp4"),
        (lambda: probe(tmp_path / "empty.mp4"), "empty.mp4"),
        (lambda: probe(tmp_path / "junk.mp4"), "junk.mp4"),
        (lambda: list(iter_video_frames(tmp_path / "cut.mp4")), "cut.mp4"),
        (lambda: load_audio(media["silent"]), "has no audio stream"),
        (lambda: load_audio(media["video"], start=5.0), "clip.mp4"),
        (lambda: load_audio(media["video"], start=2.0, end=1.0), "clip.mp4"),
        (lambda: list(iter_video_frames(media["video"], start=4.0)), "clip.mp4"),
        (lambda: count_output_frames(probe(make_tone(tmp_path / "a.wav", 0.5)), 25.0), "a.wav"),
        (lambda: load_image(tmp_path / "junk.mp4"), "junk.mp4"),
        (lambda: VideoWriter(tmp_path / "out.mp4", audio=media["silent"]), "has no audio stream"),
    ]
    for call, needle in cases:
        with pytest.raises(BadInputError) as err:
            call()
        message = str(err.value)
        assert needle in message and "\n" not in message


# ---------------------------------------------------------------- writer


def _decode_all(path):
    """Open the output the way a player does and count what it holds."""
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264" and v.codec_context.pix_fmt == "yuv420p"
        assert a.codec_context.name == "aac"
        n_video = sum(1 for _ in c.decode(v))
    with av.open(str(path)) as c:
        n_audio = sum(f.samples for f in c.decode(audio=0))
    return n_video, n_audio


def test_writer_drops_frames_past_the_audio(tmp_path):
    sr = 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(int(1.5 * sr)) / sr)).astype(np.float32)
    frames = np.stack([counter_frame(i, (161, 121)) for i in range(60)])  # odd size, longer than the audio
    with VideoWriter(tmp_path / "out.mp4", fps=25, audio=(tone, sr)) as w:
        w.write(frames[:10])
        for f in frames[10:]:
            w.write(f)
    assert w.frames_written == frames_needed(1.5, 25) == 38 and w.frames_dropped == 22
    info = probe(tmp_path / "out.mp4")
    assert (info.width, info.height) == (162, 122)
    assert abs(info.duration - 1.5) <= 1 / 25 and abs(info.audio_duration - 1.5) <= 1 / 25
    n_video, n_audio = _decode_all(tmp_path / "out.mp4")
    assert n_video == 38 and abs(n_audio - 1.5 * sr) <= 2048
    decoded = list(iter_video_frames(tmp_path / "out.mp4", fps=25))
    assert [read_counter(f[:121, :161]) for f in decoded] == list(range(38))
    assert np.abs(decoded[5][:121, :161].astype(int) - frames[5]).mean() < 3
    assert dominant_hz(load_audio(tmp_path / "out.mp4", sr=sr), sr) == pytest.approx(440.0, abs=2.0)


def test_writer_cuts_audio_to_the_video(tmp_path, media):
    with VideoWriter(tmp_path / "short.mp4", fps=25, audio=media["video"]) as w:  # 3 s of 44.1 kHz audio
        w.write(np.stack([counter_frame(i, (160, 120)) for i in range(30)]))
    info = probe(tmp_path / "short.mp4")
    assert w.frames_written == 30 and info.audio_rate == 44100
    assert abs(info.duration - 1.2) <= 1 / 25 and abs(info.audio_duration - 1.2) <= 1 / 25
    assert _decode_all(tmp_path / "short.mp4")[0] == 30


def test_writer_stereo_array_at_a_rate_aac_lacks(tmp_path):
    sr = 20000  # not an AAC rate: resampled to 48 kHz
    t = np.arange(sr) / sr
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 300 * t), 0.5 * np.sin(2 * np.pi * 700 * t)], axis=1)
    with VideoWriter(tmp_path / "st.mp4", fps=25, audio=(stereo.astype(np.float32), sr)) as w:
        w.write(np.zeros((30, 32, 32, 3), np.uint8))
    info = probe(tmp_path / "st.mp4")
    assert (info.audio_rate, info.audio_channels, w.frames_written) == (48000, 2, 25)
    with av.open(str(tmp_path / "st.mp4")) as c:
        planes = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    assert abs(planes.shape[1] - 48000) <= 2048
    assert dominant_hz(planes[0], 48000) == pytest.approx(300, abs=3)
    assert dominant_hz(planes[1], 48000) == pytest.approx(700, abs=3)


def test_writer_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), VideoWriter(tmp_path / "broken.mp4", fps=25) as w:
        w.write(counter_frame(0, (160, 120)))
        raise RuntimeError("engine crashed")
    with pytest.raises(ValueError), VideoWriter(tmp_path / "empty.mp4", fps=25):
        pass
    with pytest.raises(ValueError):
        VideoWriter(tmp_path / "clip.webm")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- images


def _quadrants(w=64, h=32):
    """Four coloured blocks: orientation and colour are both checkable after lossy coding."""
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[: h // 2, : w // 2] = (255, 0, 0)
    img[: h // 2, w // 2 :] = (0, 255, 0)
    img[h // 2 :, : w // 2] = (0, 0, 255)
    img[h // 2 :, w // 2 :] = (255, 255, 0)
    return img


def test_image_exif_orientation(tmp_path):
    upright = _quadrants()
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))  # camera held sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    stored.save(tmp_path / "phone.jpg", quality=95, exif=exif)
    info = probe(tmp_path / "phone.jpg")
    assert info.kind == "image" and (info.width, info.height) == (64, 32)
    img = load_image(tmp_path / "phone.jpg")
    assert img.shape == (32, 64, 3) and np.abs(img.astype(int) - upright).mean() < 8


def test_image_modes(tmp_path):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:4, :, 3] = 0  # transparent top -> white
    rgba[4:, :, 3] = 128  # half-transparent bottom -> halfway to white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    out = load_image(tmp_path / "alpha.png")
    assert (out[:4] == 255).all()
    assert np.abs(out[4:].astype(int) - [228, 128, 128]).max() <= 1  # 200*.502+255*.498, 0*.502+255*.498

    Image.fromarray(np.full((6, 6), 77, np.uint8), "L").save(tmp_path / "gray.png")
    assert (load_image(tmp_path / "gray.png") == 77).all()

    Image.fromarray(np.full((6, 6), 40000, np.uint16)).save(tmp_path / "gray16.png")
    assert np.abs(load_image(tmp_path / "gray16.png").astype(int) - 156).max() <= 1  # 40000/257

    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "print.jpg", quality=95)
    cmyk = load_image(tmp_path / "print.jpg")
    assert cmyk.shape == (8, 8, 3) and np.abs(cmyk.astype(int) - [255, 0, 0]).max() <= 8

    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    pal.save(tmp_path / "pal.bmp")
    assert (load_image(tmp_path / "pal.bmp") == [10, 20, 30]).all()

    Image.fromarray(_quadrants()).save(tmp_path / "q.webp", lossless=True)
    assert np.array_equal(load_image(tmp_path / "q.webp"), _quadrants())
    assert classify(tmp_path / "q.webp") == "image"


def test_corrupt_image(tmp_path):
    Image.fromarray(_quadrants()).save(tmp_path / "q.png")
    data = (tmp_path / "q.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    for name in ("cut.png",):
        with pytest.raises(BadInputError, match=name):
            load_image(tmp_path / name)
        with pytest.raises(BadInputError, match=name):
            probe(tmp_path / name)


# ---------------------------------------------------------------- shared helpers


def test_talking_clip_and_speech(tmp_path):
    clip = talking_clip(tmp_path / "talk.mp4", seconds=1.0, fps=25)
    info = probe(clip)
    assert info.kind == "video" and (info.width, info.height) == (256, 256)
    assert info.frame_count == 25 and info.has_audio and abs(info.audio_duration - 1.0) < 0.03
    frames = list(iter_video_frames(clip))
    assert np.abs(frames[0].astype(int) - frames[12].astype(int)).mean() > 1  # the portrait moves
    speech = load_audio(speech_wav(tmp_path / "hello.wav", "Hello world."))
    assert speech.size > 8000 and float(np.sqrt(np.mean(speech**2))) > 0.01


def test_unknown_codec_is_a_clear_error(tmp_path):
    """A WAV whose format tag no decoder knows: one line naming the file, not an AttributeError."""
    import struct

    data = b"\0" * 1600
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 16000, 32000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    odd = tmp_path / "odd.wav"
    odd.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(BadInputError, match="odd.wav: unsupported audio codec"):
        probe(odd)
