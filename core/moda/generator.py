"""MoDA motion generation: the DiT from ``net-200.pth`` sampled chunk by chunk over any audio length.

Loading is strict: every ``talking_head_dit.*`` key of the official layout must be present with its shape and
nothing else may appear, except the three tensors the reference registers only in some builds
(``scheduler.sigmas``, ``null_audio_feat``, ``null_motion_feat``).

The CFG null audio vector: the reference wraps it as ``nn.Parameter(torch.randn(...)).to(device)``, which on a GPU
is a plain tensor, not a registered parameter, so it is never saved to nor loaded from ``net-200.pth`` and every
reference run draws a fresh random one (its value depends on the RNG state left by the models built before it).
There is no reference value to match. When the checkpoint holds ``null_audio_feat`` we use it; otherwise we draw
it once from a fixed seed (``NULL_AUDIO_SEED``), so our runs are reproducible, and the job log says so (a note, not
a warning: there is nothing for the creator to act on).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from core.moda import motion as M
from core.moda import sampler
from core.moda.dit import DiTConfig, TalkingHeadDiT
from core.errors import BadInputError
from core.weights import load_strict

PREFIX = "talking_head_dit."
OPTIONAL_KEYS = ("scheduler.sigmas", "null_audio_feat", "null_motion_feat")
NULL_AUDIO_SEED = 42

FeatureFn = Callable[[int, int], torch.Tensor]  # (start, end) -> (end - start, layers, dim) HuBERT features


@dataclass
class MotionSettings:
    """``emotion_scale`` is the emotion strength: extra guidance towards the emotion on top of the audio guidance,
    pred = u + cfg_scale * (all - u) + emotion_scale * (emo - u) with u = (null audio, no emotion),
    emo = (null audio, emotion), all = (audio, emotion). That is the reference's commented-out 3-branch form
    u + s_emo * (emo - u) + s_audio * (all - emo) with s_emo = cfg_scale + emotion_scale, s_audio = cfg_scale
    (its 8 / 1.2 is emotion_scale 6.8). At 0 (or emotion "none", where emo = u) the extra branch is not run and
    the result is the 2-branch output bit for bit."""

    emotion: int = M.NO_EMOTION
    cfg_scale: float = 1.2
    steps: int = 10
    seed: int = 0
    smooth_window: int = 3
    emotion_scale: float = 0.0

    @property
    def emotion_guided(self) -> bool:
        return self.emotion_scale != 0 and self.emotion != M.NO_EMOTION


def guided3(branches: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], audio_scale: float,
            emotion_scale: float) -> sampler.Velocity:
    """3-branch guidance: ``branches`` returns the [u; emo; all] batch; pred = u + s_a (all - u) + s_e (emo - u)."""
    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        u, emo, full = branches(torch.cat([x, x, x]), torch.cat([t, t, t])).chunk(3)
        return u + audio_scale * (full - u) + emotion_scale * (emo - u)
    return velocity


def crossfade(prev_tail: torch.Tensor, cur_head: torch.Tensor, frames: int) -> torch.Tensor:
    """Blend two overlapping runs of n frames with a linear ramp of ``frames`` (1..n) frames centred in them.
    frames = n is the reference's k / n blend exactly."""
    n = prev_tail.shape[-2]
    start = (n - frames) // 2
    k = torch.arange(n, dtype=prev_tail.dtype, device=prev_tail.device)
    alpha = ((k - start) / frames).clamp(0, 1).unsqueeze(-1)
    return prev_tail * (1 - alpha) + cur_head * alpha


class MotionGenerator:
    """The DiT plus its CFG null-audio vector, on one device (fp32, as the reference runs it)."""

    def __init__(self, dit: TalkingHeadDiT, null_audio: torch.Tensor | None):
        self.dit = dit.eval()
        self.null_audio_from_checkpoint = null_audio is not None
        self._null_audio = null_audio
        self.compute_on: torch.device | None = None  # set when the model cache keeps the weights elsewhere

    def null_audio(self, dim: int) -> torch.Tensor:
        """The CFG null audio vector (one per feature layer and frame); seeded when the checkpoint lacks it."""
        if self._null_audio is None or self._null_audio.numel() != dim:
            if self.null_audio_from_checkpoint:
                raise BadInputError(f"null_audio_feat has {self._null_audio.numel()} values; the audio features "
                                    f"have {dim}")
            self._null_audio = torch.randn(dim, generator=torch.Generator().manual_seed(NULL_AUDIO_SEED))
        return self._null_audio.to(self.device)

    @property
    def device(self) -> torch.device:
        """Where it computes: ``compute_on`` when set, else where the weights are."""
        return self.compute_on or next(self.dit.parameters()).device

    @property
    def module(self) -> TalkingHeadDiT:
        """The network the model cache places (``core.cache.module_of``)."""
        return self.dit

    @classmethod
    def from_state_dict(cls, sd: dict[str, torch.Tensor], name: str = "net-200.pth") -> MotionGenerator:
        extra = [k for k in sd if not k.startswith(PREFIX) and k not in OPTIONAL_KEYS]
        if extra:
            raise BadInputError(f"{name}: unexpected keys {extra[:5]}; not a MoDA motion generator checkpoint")
        try:
            cfg = DiTConfig.from_state_dict(sd, PREFIX)
        except KeyError as exc:
            raise BadInputError(f"{name}: missing key {exc.args[0]}; not a MoDA motion generator checkpoint") from exc
        dit = TalkingHeadDiT(cfg)
        inner = {k[len(PREFIX):]: v for k, v in sd.items() if k.startswith(PREFIX)}
        load_strict(dit, inner, name)
        if "scheduler.sigmas" in sd:
            expected = torch.arange(1, 1001, dtype=torch.float32) / 1000
            if sd["scheduler.sigmas"].shape != expected.shape:
                raise BadInputError(f"{name}: scheduler.sigmas has shape {tuple(sd['scheduler.sigmas'].shape)}")
        null = sd.get("null_audio_feat")
        if null is not None and cfg.audio_in % null.numel():
            raise BadInputError(f"{name}: null_audio_feat has {null.numel()} values, not a divisor of {cfg.audio_in}")
        return cls(dit, None if null is None else null.float().reshape(-1))

    @classmethod
    def load(cls, path: Path, device: torch.device) -> MotionGenerator:
        from core.weights import load_state_dict

        gen = cls.from_state_dict(load_state_dict(path), Path(path).name)
        gen.dit.to(device)
        return gen

    @torch.no_grad()
    def sample_chunk(self, audio: torch.Tensor, prev: torch.Tensor, id_kp: torch.Tensor, settings: MotionSettings,
                     noise: torch.Tensor) -> torch.Tensor:
        """One 80-frame window in normalised space. audio (80, layers, dim); prev (70,); id_kp (63,) raw."""
        dev = self.device
        audio = audio.to(dev, torch.float32).unsqueeze(0)
        prev_in = prev.to(dev, torch.float32).reshape(1, 1, -1).expand(1, audio.shape[1], -1)
        kp = id_kp.to(dev, torch.float32).reshape(1, -1)
        emo = torch.tensor([settings.emotion], device=dev)
        use_cfg = settings.cfg_scale > 1
        none = torch.tensor([M.NO_EMOTION], device=dev)

        if settings.emotion_guided:  # batch [u; emo; all]
            null = self.null_audio(audio.shape[-1]).reshape(1, 1, 1, -1).expand_as(audio)
            audio = torch.cat([null, null, audio])
            kp, emo = kp.expand(3, -1), torch.cat([none, emo, emo])
        elif use_cfg:
            null = self.null_audio(audio.shape[-1]).reshape(1, 1, 1, -1).expand_as(audio)
            audio = torch.cat([null, audio])
            kp, emo = kp.expand(2, -1), torch.cat([none, emo])

        def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            motion_in = torch.cat([prev_in.expand(x.shape[0], -1, -1), x], dim=-1)
            return self.dit(motion_in, t, audio, emo, kp)

        if settings.emotion_guided:
            velocity = guided3(model, settings.cfg_scale if use_cfg else 1.0, settings.emotion_scale)
        else:
            velocity = sampler.guided(model, settings.cfg_scale) if use_cfg else model
        return sampler.sample(velocity, noise.to(dev, torch.float32), settings.steps)[0].cpu()

    def generate(self, features: FeatureFn, frames: int, id_kp: torch.Tensor, prev: torch.Tensor,
                 settings: MotionSettings, on_chunk: Callable[[int, int], None] | None = None,
                 emotions: Sequence[tuple[int, float]] | None = None, crossfade_frames: int = M.OVERLAP
                 ) -> torch.Tensor:
        """All frames (T, 70), normalised: chunks of 80, 16 blended, pose smoothed per chunk and overall.

        ``prev`` is the normalised source motion (the condition of chunk 0); each later chunk is conditioned
        on frame 63 of the previous one. Frames past the audio are fed zero features and dropped.
        ``emotions`` optionally gives each chunk its own (emotion id, emotion_scale); where it changes between
        two chunks their 16-frame overlap is blended over ``crossfade_frames`` (1..16) instead of all 16.
        """
        plan = M.ChunkPlan(frames)
        if emotions is not None and len(emotions) != plan.chunks:
            raise ValueError(f"{len(emotions)} chunk emotions for {plan.chunks} chunks")
        if not 1 <= crossfade_frames <= M.OVERLAP:
            raise ValueError(f"crossfade must be 1..{M.OVERLAP} frames, got {crossfade_frames}")
        noise_rng = torch.Generator().manual_seed(int(settings.seed))
        pieces: list[torch.Tensor] = []
        for i in range(plan.chunks):
            start, end = plan.window(i)
            audio = features(start, min(end, frames))
            if audio.shape[0] < M.CHUNK:
                pad = audio.new_zeros((M.CHUNK - audio.shape[0], *audio.shape[1:]))
                audio = torch.cat([audio, pad])
            noise = torch.randn((1, M.CHUNK, M.MOTION_DIM), generator=noise_rng)
            chunk_settings = settings if emotions is None else replace(
                settings, emotion=int(emotions[i][0]), emotion_scale=float(emotions[i][1]))
            chunk = M.smooth_pose(self.sample_chunk(audio, prev, id_kp, chunk_settings, noise),
                                  settings.smooth_window)
            prev = chunk[M.STRIDE - 1].clone()
            if i == plan.chunks - 1 and plan.padding:
                chunk = chunk[: M.CHUNK - plan.padding]
            if pieces:
                tail, head = pieces[-1][-M.OVERLAP:], chunk[: M.OVERLAP]
                if emotions is not None and tuple(emotions[i]) != tuple(emotions[i - 1]):
                    pieces[-1][-M.OVERLAP:] = crossfade(tail, head, crossfade_frames)
                else:
                    pieces[-1][-M.OVERLAP:] = M.blend_overlap(tail, head)
                chunk = chunk[M.OVERLAP:]
            pieces.append(chunk)
            if on_chunk is not None:
                on_chunk(i + 1, plan.chunks)
        return M.smooth_pose(torch.cat(pieces), settings.smooth_window)

