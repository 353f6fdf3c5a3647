"""Lip-dub rest on silence, on tiny random weights: what the UNet receives on rest frames (spied with a forward hook
on the real UNet), and the keep-source mode's untouched frames."""
import numpy as np
import pytest
import soundfile as sf
import torch

from core import jobs
from core.audio import dsp
from core.audio.options import AudioOptions
from core.audio.rest import rest_weights, speech_map_for
from core.engines.lipdub import LipdubRequest, run
from core.engines.lipdub import models as M
from core.engines.lipdub.audio import SR, WhisperFeatures, positional_encoding
from core.engines.lipdub.rest import SilenceFeatures
from core.engines.lipdub.source import FrameSource, pingpong
from core.errors import BadInputError
from core.media import EncoderThread
from tests.samples import speech_wav, talking_clip

BOX = (32, 24, 96, 112)


def _trimmed(path):
    x, rate = sf.read(str(path), dtype="float32")
    x = dsp.resample(x, rate, SR)
    loud = np.flatnonzero(np.abs(x) > 1e-3)
    return x[loud[0]:loud[-1] + 1]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Speech, 1.0 s of digital silence, speech (about 2.3 s); a 0.4 s video the output ping-pongs over."""
    d = tmp_path_factory.mktemp("lipdub_rest")
    word = _trimmed(speech_wav(d / "word.wav", "Hello there"))
    audio = np.concatenate([word, np.zeros(SR, np.float32), word[: SR // 2]])
    sf.write(d / "voice.wav", audio, SR, subtype="FLOAT")
    return {"video": talking_clip(d / "clip.mp4", seconds=0.4, size=(128, 128)), "audio": d / "voice.wav",
            "samples": audio}


def _req(media, ckpt, rest):
    return LipdubRequest(video=str(media["video"]), audio=AudioOptions(str(media["audio"]), rest=rest),
                         box=list(BOX), checkpoints=str(ckpt), batch_size=16)


def test_unet_gets_silence_features_on_rest_frames_with_the_ramp(test_checkpoints, media):
    cpu, f32 = torch.device("cpu"), torch.float32
    unet = M.load_unet(test_checkpoints, "v15", cpu, f32)  # the cached instance the pipeline uses
    seen = []
    hook = unet.register_forward_hook(lambda m, args, kwargs, out: seen.append(kwargs["encoder_hidden_states"]),
                                      with_kwargs=True)
    try:
        result = jobs.run_job("lipdub", run, _req(media, test_checkpoints, "on"))
    finally:
        hook.remove()
    prompts = torch.cat(seen)
    n = result.extra["frames"]
    assert prompts.shape[0] == n  # one prompt per output frame (the box is manual: every frame has a face)

    samples = media["samples"]
    speech = speech_map_for(AudioOptions(str(media["audio"])), samples, SR, frames=n)
    w = rest_weights(speech.rest)
    rest_run = np.flatnonzero(w == 1.0)
    assert 15 <= rest_run.size <= 25 and 1 <= np.flatnonzero(w == 0).size  # ~1 s rest, speech on both sides
    ramp = np.flatnonzero((w > 0) & (w < 1))
    assert ramp.size == 6  # 3 frames into rest, 3 out of it

    encoder, extractor = M.load_whisper_encoder(test_checkpoints, cpu, f32), M.load_feature_extractor(test_checkpoints)
    pe = positional_encoding(device=cpu, dtype=f32)
    frames = list(range(n))
    talk = WhisperFeatures(samples, encoder, extractor, cpu, f32)(frames) + pe
    quiet = SilenceFeatures(len(samples), encoder, extractor, cpu, f32)(frames) + pe
    zeros = WhisperFeatures(np.zeros_like(samples), encoder, extractor, cpu, f32)(frames) + pe
    torch.testing.assert_close(quiet, zeros)  # the silence prompts are whisper on true zeros
    expected = talk + (quiet - talk) * torch.from_numpy(w)[:, None, None]
    torch.testing.assert_close(prompts, expected, rtol=1e-5, atol=1e-5)
    speaking = np.flatnonzero(w == 0)
    torch.testing.assert_close(prompts[speaking], talk[speaking], rtol=0, atol=0)
    torch.testing.assert_close(prompts[rest_run], quiet[rest_run], rtol=0, atol=1e-6)
    assert not torch.allclose(talk[rest_run], quiet[rest_run])  # the audio there is not what the UNet got


def test_keep_source_leaves_rest_frames_untouched(test_checkpoints, media, monkeypatch):
    sent = []
    original = EncoderThread.put
    monkeypatch.setattr(EncoderThread, "put", lambda self, batch: (sent.append(batch.copy()), original(self, batch)))
    result = jobs.run_job("lipdub", run, _req(media, test_checkpoints, "source"))
    out = np.concatenate(sent)
    n = result.extra["frames"]
    assert out.shape[0] == n
    speech = speech_map_for(AudioOptions(str(media["audio"])), media["samples"], SR, frames=n)
    w = rest_weights(speech.rest)
    source = FrameSource(str(media["video"]))
    decoded = source.frames([pingpong(i, source.n) for i in range(n)])
    full = np.flatnonzero(w == 1.0)
    assert full.size >= 15
    assert np.array_equal(out[full], decoded[full])  # byte-identical: no UNet, no blend
    speaking = np.flatnonzero(w == 0)
    assert not np.array_equal(out[speaking], decoded[speaking])  # speech frames are dubbed
    ramp = np.flatnonzero((w > 0) & (w < 1))
    for i in ramp:  # cross-faded: between the dubbed face and the source, closer to the source as w grows
        assert not np.array_equal(out[i], decoded[i])


def test_source_mode_is_lipdub_only_and_music_is_refused(test_checkpoints, media, tmp_path):
    from core.engines.portrait import PortraitRequest
    from tests.samples import make_tone, portrait_path

    with pytest.raises(BadInputError, match="Rest on silence must be one of on \\| off for this engine"):
        PortraitRequest(image=str(portrait_path()), audio=AudioOptions(str(media["audio"]), rest="source"),
                        checkpoints=str(test_checkpoints)).validate()
    tone = make_tone(tmp_path / "music.wav", seconds=1.0, hz=220.0)
    with pytest.raises(BadInputError, match="no speech found in the driving audio"):
        jobs.run_job("lipdub", run, LipdubRequest(video=str(media["video"]), audio=AudioOptions(str(tone)),
                                                  box=list(BOX), checkpoints=str(test_checkpoints)))


def test_preview_frame_zero_follows_rest(test_checkpoints, media, tmp_path):
    """Audio that starts with 0.6 s of silence: in source mode the previewed frame 0 is the source frame itself."""
    from PIL import Image

    from core.engines.lipdub import preview

    path = tmp_path / "late.wav"
    sf.write(path, np.concatenate([np.zeros(int(0.6 * SR), np.float32), media["samples"]]), SR, subtype="FLOAT")
    req = LipdubRequest(video=str(media["video"]), audio=AudioOptions(str(path), rest="source"), box=list(BOX),
                        checkpoints=str(test_checkpoints))
    result = jobs.run_job("lipdub", preview, req)
    frame0 = FrameSource(str(media["video"])).frames([0])[0]
    assert np.array_equal(np.asarray(Image.open(result.output).convert("RGB")), frame0)
    on = jobs.run_job("lipdub", preview, LipdubRequest(video=str(media["video"]), audio=AudioOptions(str(path)),
                                                         box=list(BOX), checkpoints=str(test_checkpoints)))
    assert not np.array_equal(np.asarray(Image.open(on.output).convert("RGB")), frame0)  # "on" dubs with silence
