"""Issue 15: every engine honours the memory profile through the model cache. Each engine's preview runs on the CPU
with ``memory=offload`` and ``memory=low``: every torch model it loads is placed as the profile says (the cache's
report), and layer streaming (low: accelerate's hooks, weights on the meta device between calls) still renders, which
catches code that reads a weight without calling its module."""
import pytest
import soundfile as sf
import torch

from core import jobs
from core.audio.options import AudioOptions
from core.cache import default_cache
from core.engine import get
from core.engines.avatar.request import AvatarRequest
from core.engines.expression.request import ExpressionRequest
from core.engines.lipdub.request import LipdubRequest
from core.engines.portrait.request import PortraitRequest
from tests.samples import make_tone, portrait_path, talking_clip

pytestmark = pytest.mark.slow  # whole previews of every engine, twice (about 2-4 minutes on 2 busy cores)


def _engine_requests(tmp, ckpt):
    photo, box = str(portrait_path()), [185, 70, 275, 185]
    tone = AudioOptions(str(make_tone(tmp / "tone.wav", seconds=0.5, hz=220.0)), rest="off")  # a tone has no speech
    common = {"checkpoints": str(ckpt), "device": "cpu"}
    return {
        "lipdub": LipdubRequest(video=str(talking_clip(tmp / "clip.mp4", seconds=0.2, size=(96, 96))), audio=tone,
                                box=[16, 12, 80, 90], **common),
        "portrait": PortraitRequest(image=photo, audio=tone, box=box, steps=2, **common),
        "avatar": AvatarRequest(image=photo, audio=tone, size="32x32", steps=1, **common),
        "expression": ExpressionRequest(image=photo, box=box, edits={"smile": 0.5}, **common),
    }


LOADED = {"lipdub": {"lipdub.unet-v15", "lipdub.vae", "lipdub.whisper", "lipdub.parser"},
          "portrait": {"liveportrait"}, "expression": {"liveportrait"},
          "avatar": {"avatar-dit", "avatar-vae", "avatar-umt5", "avatar-clip", "avatar-wav2vec"}}


@pytest.mark.parametrize("profile, placement", [("offload", "offload"), ("low", "sequential")])
def test_every_engine_places_its_models_as_the_profile_says(test_checkpoints, tmp_path, profile, placement):
    """Each engine's preview with ``memory=profile`` on the CPU: every torch model the job loaded is placed as the
    profile says (the cache's report), and the preview still renders."""
    for engine, req in _engine_requests(tmp_path, test_checkpoints).items():
        default_cache().unload_all()
        req.memory = profile
        result = jobs.run_job(engine, get(engine).preview, req)
        assert result.output.is_file()
        placed = default_cache().placements()
        assert LOADED[engine] <= {k[0] for k in placed} and set(placed.values()) == {placement}, (engine, placed)
        where = {w for k, w, _ in default_cache().report() if k in placed}
        assert where == {"cpu" if placement == "offload" else "streamed to cpu"}
    default_cache().unload_all()


def test_moda_motion_is_the_same_under_every_profile(test_checkpoints, tmp_path):
    """The shared MoDA models (motion DiT and HuBERT wrappers, placed through their ``module``) compute the same
    motion resident, offloaded and streamed layer by layer."""
    from core.engines.portrait.pipeline import _prepare
    from core.moda.generator import MotionSettings
    from core.moda.pipeline import generate_motion

    speech = sf.read(make_tone(tmp_path / "tone.wav", seconds=0.4, hz=200.0), dtype="float32")[0]
    req = _engine_requests(tmp_path, test_checkpoints)["portrait"]
    source = _prepare(req, jobs.JobContext(tmp_path / "source").resolve("portrait", req)).source
    motions = {}
    for profile in ("full", "offload", "low"):
        default_cache().unload_all()
        req.memory = profile
        ctx = jobs.JobContext(tmp_path / profile).resolve("portrait", req)
        motions[profile] = generate_motion(ctx.root, source, speech, 10, ctx.device, ctx, MotionSettings(steps=2))
        assert set(default_cache().placements().values()) == {ctx.placement}
    default_cache().unload_all()
    assert torch.equal(motions["offload"], motions["full"]) and torch.equal(motions["low"], motions["full"])
