"""Animate a photo, rest on silence, on tiny random weights: the lip-close target reaches LivePortrait's lip
retargeting on rest frames, and the generated mouth motion there is gone (same seed, rest off keeps it).

Spies wrap the real renderer's methods (the cached instance runs as usual). Whether the trained R_lip really closes
the mouth only real weights can show (see README, "Rest on silence")."""
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from core.audio import dsp
from core.audio.options import AudioOptions
from core.audio.rest import rest_weights, speech_map_for
from core.engines.portrait.pipeline import PortraitRequest, run
from core.jobs import run_job
from core.liveportrait import LivePortraitRenderer
from core.liveportrait.rest import LIP_KEYPOINTS
from tests.samples import speech_wav

BOX = [185, 70, 275, 185]
SR = 16000


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    """0.5 s of speech, 0.6 s of digital silence, 0.3 s of speech."""
    d = tmp_path_factory.mktemp("portrait_rest")
    x, rate = sf.read(str(speech_wav(d / "w.wav", "Hello there")), dtype="float32")
    x = dsp.resample(x, rate, SR)
    loud = np.flatnonzero(np.abs(x) > 1e-3)
    word = x[loud[0]:loud[-1] + 1]
    samples = np.concatenate([word[: int(0.5 * SR)], np.zeros(int(0.6 * SR), np.float32), word[: int(0.3 * SR)]])
    sf.write(d / "voice.wav", samples, SR, subtype="FLOAT")
    return str(d / "voice.wav"), samples


def _spied_run(checkpoints, voice, rest, monkeypatch):
    import skimage

    exps, lips = [], []
    compose, retarget = LivePortraitRenderer.compose_keypoints, LivePortraitRenderer.retarget_lip

    def spy_compose(source, exp, *args, **kw):
        exps.append(exp.detach().cpu().clone())
        return compose(source, exp, *args, **kw)

    def spy_retarget(self, x_s, ratio):
        lips.append(ratio.detach().cpu().clone())
        return retarget(self, x_s, ratio)

    monkeypatch.setattr(LivePortraitRenderer, "compose_keypoints", staticmethod(spy_compose))
    monkeypatch.setattr(LivePortraitRenderer, "retarget_lip", spy_retarget)
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(checkpoints)
    image = str(Path(skimage.__file__).parent / "data" / "astronaut.png")
    req = PortraitRequest(image=image, audio=AudioOptions(voice[0], rest=rest), box=BOX, steps=1, render_batch=16,
                          pasteback=False, seed=7)
    result = run_job("portrait", run, req)
    monkeypatch.undo()
    return result, torch.cat(exps), lips


def test_lips_close_through_lip_retargeting_on_rest_frames(test_checkpoints, voice, monkeypatch):
    from PIL import Image

    from core.engines.portrait.weights import LIVEPORTRAIT
    from core.liveportrait import image_to_tensor
    from core.liveportrait.crop import FaceCropper
    from core.liveportrait.crop.landmarks import lip_close_ratio

    on, exp_on, lips_on = _spied_run(test_checkpoints, voice, "on", monkeypatch)
    _off, exp_off, lips_off = _spied_run(test_checkpoints, voice, "off", monkeypatch)
    n = on.extra["frames"]
    assert exp_on.shape[0] == exp_off.shape[0] == n

    w = rest_weights(speech_map_for(AudioOptions(voice[0]), voice[1], SR, frames=n).rest)
    rest, ramp, speech = np.flatnonzero(w == 1), np.flatnonzero((w > 0) & (w < 1)), np.flatnonzero(w == 0)
    assert rest.size >= 5 and ramp.size == 6 and speech.size >= 10

    # 1. the lip-close target reaches R_lip: one row per frame with any rest, [source lip-open ratio, 0]
    import skimage

    photo = np.asarray(Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("RGB"))
    crop = FaceCropper.cached(test_checkpoints, weights=LIVEPORTRAIT).crop_source(photo, box=BOX)
    ratios = torch.cat(lips_on)
    assert ratios.shape == (rest.size + ramp.size, 2)
    assert torch.all(ratios[:, 1] == 0.0)
    torch.testing.assert_close(ratios[:, 0], torch.full((ratios.shape[0],), float(lip_close_ratio(crop.landmarks_203))))
    assert lips_off == []  # rest off: the reference path, no retargeting

    # 2. the generated mouth motion is gone on rest frames, eased on the ramps, untouched on speech frames
    renderer = LivePortraitRenderer.cached(test_checkpoints, "cpu", torch.float32, weights=LIVEPORTRAIT)
    source = renderer.extract_source(image_to_tensor(crop.img_crop_256, renderer.device)).exp.cpu()
    lips = LIP_KEYPOINTS

    def opening(exp):  # how far the lip rows are from the photo's own mouth, per frame
        return (exp[:, lips] - source[:, lips]).abs().sum(dim=(1, 2))

    o_on, o_off = opening(exp_on), opening(exp_off)
    assert torch.all(o_on[rest] < 1e-6) and torch.all(o_off[rest] > 1e-4)
    assert torch.all(o_on[ramp] < o_off[ramp])
    torch.testing.assert_close(exp_on[speech], exp_off[speech])  # same seed: speech frames unchanged
    others = [k for k in range(21) if k not in lips]
    torch.testing.assert_close(exp_on[:, others], exp_off[:, others])  # eyes, brows, emotion rows continue
