"""Expression control, photo + audio, rest on silence (tiny random weights): on rest frames the lip rows take the
photo's own and the lip-close offsets of LivePortrait's retargeting join the keypoints, while the edits stay."""

import numpy as np
import pytest
import soundfile as sf
import torch

from core.audio import dsp
from core.audio.options import AudioOptions
from core.audio.rest import rest_weights, speech_map_for
from core.engines.expression import pipeline
from core.engines.expression.request import ExpressionRequest
from core.jobs import run_job
from core.liveportrait.rest import LIP_KEYPOINTS
from tests.samples import portrait_path, speech_wav

BOX = [185, 70, 275, 185]
SR = 16000


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    d = tmp_path_factory.mktemp("expression_rest")
    x, rate = sf.read(str(speech_wav(d / "w.wav", "Hello there")), dtype="float32")
    x = dsp.resample(x, rate, SR)
    loud = np.flatnonzero(np.abs(x) > 1e-3)
    word = x[loud[0]:loud[-1] + 1][: int(0.4 * SR)]
    samples = np.concatenate([word, np.zeros(int(0.5 * SR), np.float32), word[: int(0.2 * SR)]])
    sf.write(d / "voice.wav", samples, SR, subtype="FLOAT")
    return str(d / "voice.wav"), samples


def test_photo_audio_rests_with_edits_kept(test_checkpoints, voice, monkeypatch):
    import os

    from core.liveportrait.expression import edit_deltas

    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(test_checkpoints)
    driven, offsets = [], []
    real = pipeline.driving_keypoints

    def spy(renderer, face, exp, pose, t_, retarget, **kw):
        driven.append((exp.clone(), face.source.exp.cpu().clone()))
        offsets.append(kw["offsets"].clone())
        return real(renderer, face, exp, pose, t_, retarget, **kw)

    monkeypatch.setattr(pipeline, "driving_keypoints", spy)
    edits = {"smile": 0.5}
    req = ExpressionRequest(image=str(portrait_path()), box=BOX, audio=AudioOptions(voice[0]), edits=edits, steps=1,
                            render_batch=16, seed=3)
    res = run_job("expression", pipeline.run, req)
    n = res.extra["frames"]
    exp = torch.cat([e for e, _ in driven])
    source = driven[0][1]
    closing = torch.cat(offsets)
    w = rest_weights(speech_map_for(AudioOptions(voice[0]), voice[1], SR, frames=n).rest)
    rest, speech = np.flatnonzero(w == 1), np.flatnonzero(w == 0)
    assert rest.size >= 3 and speech.size >= 5
    d_exp = edit_deltas(edits)[0]
    lips = LIP_KEYPOINTS
    torch.testing.assert_close(exp[rest][:, lips], (source + d_exp)[:, lips].expand(rest.size, -1, -1))
    assert torch.all(closing[speech] == 0) and torch.all(closing[rest].abs().sum(dim=(1, 2)) > 0)
