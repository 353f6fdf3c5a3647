"""Streamed results (issue 17, part 1): a lip-dub job hands out playable segments while it renders, and the final
file is bit-identical with streaming on and off."""
import time

import numpy as np
import pytest

from core import jobs
from core.audio.options import AudioOptions
from core.engines.lipdub import LipdubRequest, run
from core.media import iter_video_frames, probe
from tests.samples import make_tone, talking_clip


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream_media")
    return {"video": talking_clip(d / "clip.mp4", seconds=0.4, size=(128, 128)),
            "audio": make_tone(d / "voice.wav", seconds=1.6, hz=220.0)}


def _req(media, ckpt):
    return LipdubRequest(video=str(media["video"]), audio=AudioOptions(audio=str(media["audio"]), rest="off"),
                         box=[32, 24, 96, 112], checkpoints=str(ckpt), batch_size=8)


def test_lipdub_streams_playable_segments_and_the_final_file_is_unchanged(media, test_checkpoints):
    plain = jobs.run_job("lipdub", run, _req(media, test_checkpoints))
    seen = []
    streamed = jobs.run_job("lipdub", run, _req(media, test_checkpoints),
                            on_segment=lambda seg: seen.append((time.perf_counter(), seg)))
    finished = time.perf_counter()

    assert plain.output.read_bytes() == streamed.output.read_bytes()  # the stream costs the final file nothing

    # 40 frames, batches of 8, segments of >= 1 s cut at batch boundaries: 32 + 8 frames, in order, back to back.
    segs = [seg for _, seg in seen]
    assert [s.frames for s in segs] == [32, 8]
    assert [s.index for s in segs] == [0, 1]
    assert segs[0].start_s == 0 and segs[1].start_s == pytest.approx(segs[0].end_s)
    assert seen[0][0] < finished  # the first segment was out before the job ended
    final = np.stack(list(iter_video_frames(streamed.output)))
    at = 0
    for seg in segs:
        info = probe(seg.path)
        assert info.has_audio and info.kind == "video"  # plays on its own, with its sound
        assert info.duration == pytest.approx(seg.frames / 25, abs=0.05)
        frames = np.stack(list(iter_video_frames(seg.path)))
        assert len(frames) == seg.frames
        # The same pictures as the final file, each encoded on its own (H.264 noise only: PSNR above 30 dB).
        mse = ((frames.astype(np.float64) - final[at:at + seg.frames]) ** 2).mean()
        assert 10 * np.log10(255 ** 2 / mse) > 30, mse
        at += seg.frames
    assert at == len(final)
