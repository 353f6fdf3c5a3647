"""Infinite avatar: one photo + speech of any length + a prompt → a talking video exactly as long as the speech.

StableAvatar (Wan2.1-Fun 1.3B + audio adapter), steps:
1. the reference image (stretched to the requested size) and the driving audio;
2. embeddings once per job: umT5 text [negative, positive], CLIP tokens and the VAE conditioning of the reference,
   and the wav2vec features of every window (the reference recomputes them at every step);
3. seeded noise for the whole video (CPU generator: the same seed gives the same video on any device);
4. windowed flow-matching denoising (``core.wan.sampling``) with the 3-branch guidance, progress per window and
   step, cancellation between steps;
5. streaming VAE decode, one latent frame at a time, optional colour matching, straight into the encoder thread,
   cut to the audio's frame count and muxed with the output track.

Every step that computes on the accelerator is a *GPU call* (``ctx.gpu_call(fn, *args)`` with a module-level ``fn``
and picklable arguments): here they simply run in this process; on a Hugging Face ZeroGPU Space each runs in a GPU
worker, denoising and decoding as many window-steps / latent frames as fit ``ctx.gpu_budget_s`` per call, with the
latents, the denoising state and the decoder's causal cache kept on the CPU between calls. Progress and cancellation
happen between calls (after every window-step and latent frame when the calls run here).

Memory stays flat in the audio length: the only per-video state is the [16, T, H/8, W/8] fp32 latents and their
stepped copy on the CPU (about 3.3 MB per second of video at 512², 0.2 GB per minute), features are per window,
and frames leave the decoder a few at a time.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.cache import default_cache
from core.device import oom_guard
from core.jobs import JobContext, JobResult
from core.wan import audio as wan_audio
from core.wan import sampling

from . import colour, memory
from . import weights as AW
from .request import AvatarRequest
from .rest import wav2vec_input

SR, FPS = wan_audio.SR, wan_audio.FPS
PREVIEW_STEPS = 10


@dataclass
class Models:
    dit: torch.nn.Module
    vae: torch.nn.Module
    t5: torch.nn.Module
    tokenizer: object
    clip: torch.nn.Module
    wav2vec: wan_audio.Wav2Vec
    device: torch.device           # where every model computes (its weights may wait elsewhere)
    dtype: torch.dtype             # the DiT's and umT5's compute precision


def load_models(root, device: torch.device, dtype: torch.dtype, mode: str) -> Models:
    """Every model through the shared cache, placed as the memory mode says; keys carry the mode (fp8 changes the
    stored weights). Use a model inside ``on_device(model)``."""
    from core.wan import image, text, transformer, vae

    cache = default_cache()

    def get(name, factory, key_dtype=dtype):
        # nn.Module.to: diffusers' ModelMixin.to warns about its keep-in-fp32 list; our norms and modulation
        # already compute in fp32 whatever the weights' dtype (as the reference's bf16 run).
        key = (f"avatar-{name}", str(device), str(key_dtype), mode, str(root))
        return cache.get(key, lambda: memory.prepare(torch.nn.Module.to(factory(), key_dtype), mode),
                         placement=memory.PLACEMENT[mode], device=device)

    return Models(
        dit=get("dit", lambda: transformer.load(root / AW.DIT, root / AW.FUN_DIT)),
        vae=get("vae", lambda: vae.load(root / AW.VAE), torch.float32),
        t5=get("umt5", lambda: text.load(root / AW.T5)),
        tokenizer=cache.get(("avatar-tokenizer", str(root)), lambda: text.load_tokenizer(root / AW.TOKENIZER)),
        clip=get("clip", lambda: image.load(root / AW.CLIP), torch.float32),
        wav2vec=cache.get(("avatar-wav2vec", str(device), str(root)),
                          lambda: wan_audio.Wav2Vec.load(root / AW.WAV2VEC).to(device),
                          placement=memory.PLACEMENT[mode], device=device),
        device=device, dtype=dtype)


@dataclass(frozen=True)
class ModelSpec:
    """Which models, where, in what precision and memory mode: plain strings, so a GPU call in another process
    loads the same models (through that process's model cache)."""

    root: str
    device: str
    dtype: str
    memory: str

    def load(self) -> Models:
        return load_models(Path(self.root), torch.device(self.device), getattr(torch, self.dtype), self.memory)


def on_device(model: torch.nn.Module):
    """The model on its device for the block (offload modes move it there and the previous one back)."""
    return default_cache().on_device(model)


def reference_frame(path: str, width: int, height: int) -> tuple[np.ndarray, torch.Tensor]:
    """The photo stretched to width × height (bicubic, no crop, as the reference) as uint8 and as [3, H, W] in [-1,
    1]."""
    from PIL import Image

    from core.media import load_image

    rgb = np.array(Image.fromarray(load_image(path)).resize((width, height), Image.BICUBIC))
    return rgb, torch.from_numpy(rgb).permute(2, 0, 1).float() / 127.5 - 1


@dataclass
class Conditioning:
    text: torch.Tensor             # [3, 512, D]: negative, negative, positive
    image: torch.Tensor            # [3, 257, 1280]
    y: torch.Tensor                # [1, 20, min(T, 21), h, w]: mask + reference latent
    audio: list[torch.Tensor]      # per window: [1, La, 768] wav2vec features


def condition(models: Models, request: AvatarRequest, frame: torch.Tensor, speech: np.ndarray,
              windows: list[tuple[int, int]], ctx: JobContext) -> Conditioning:
    """Everything the denoiser needs besides the latents, computed once per job, each model on its device in
    turn: prompts [negative, positive], CLIP tokens and VAE latent of the reference, wav2vec per window."""
    from core.wan import image, text, vae

    with ctx.stage("text"), on_device(models.t5):
        prompts = text.encode(models.tokenizer, models.t5, [request.negative_prompt, request.prompt],
                              models.device)
    with ctx.stage("image"), on_device(models.clip):
        clip = image.clip_tokens(models.clip, frame)
    first = windows[0][1] - windows[0][0]
    with ctx.stage("vae encode"), on_device(models.vae):
        latent = vae.encode_condition(models.vae, frame, first, models.device)
    mask = torch.zeros(1, 4, first, *latent.shape[3:])
    mask[:, :, 0] = 1
    audio = []
    with ctx.stage("audio features"):
        for start, end in windows:
            audio.append(models.wav2vec(wan_audio.window_audio(speech, start, end - start)).cpu())
            ctx.check_cancelled()
    return Conditioning(text=prompts[[0, 0, 1]].cpu(), image=clip.expand(3, -1, -1).float().cpu(),
                        y=torch.cat([mask, latent], dim=1), audio=audio)


def condition_call(spec: ModelSpec, request: AvatarRequest, frame: torch.Tensor, speech: np.ndarray,
                   windows: list[tuple[int, int]], ctx) -> Conditioning:
    """GPU call: the conditioning (CPU tensors)."""
    return condition(spec.load(), request, frame, speech, windows, ctx)


def _velocity(models: Models, request: AvatarRequest, cond: Conditioning) -> sampling.Velocity:
    device, dtype = models.device, models.dtype
    text, image = cond.text.to(device, dtype), cond.image.to(device, dtype)

    def velocity(x: torch.Tensor, where: sampling.Step) -> torch.Tensor:
        n = where.end - where.start
        features = cond.audio[where.window]
        ranges = wan_audio.token_ranges(features.shape[1], n)
        batch = x.to(device, dtype).expand(3, -1, -1, -1, -1)
        y = cond.y[:, :, :n].to(device, dtype).expand(3, -1, -1, -1, -1)
        t = torch.full((3,), where.timestep, device=device)
        with torch.no_grad():
            v = models.dit(batch, y, t, text, image, features.to(device, dtype), ranges, null_audio_rows=1)
        return sampling.guide(v.float(), request.audio_guidance, request.text_guidance)

    return velocity


def denoise_call(spec: ModelSpec, request: AvatarRequest, cond: Conditioning, state: sampling.DenoiseState,
                 budget_s: float) -> sampling.DenoiseState:
    """GPU call: as many window-steps as fit ``budget_s`` (at least one)."""
    models = spec.load()
    with on_device(models.dit):
        return sampling.advance(state, _velocity(models, request, cond), budget_s)


def denoise(spec: ModelSpec, request: AvatarRequest, cond: Conditioning, latents: int, steps: int,
            ctx: JobContext) -> torch.Tensor:
    """Final latents [1, 16, T, h, w] (fp32, CPU): seeded CPU noise, then GPU calls until every window-step is done,
    reporting progress and checking for cancellation after each."""
    height, width = cond.y.shape[3:]
    generator = torch.Generator("cpu").manual_seed(int(request.seed))
    noise = torch.randn(1, 16, latents, height, width, generator=generator)
    state = sampling.DenoiseState.start(noise, steps, request.overlap, request.overlap_scheme)
    windows = len(state.windows)
    total = steps * windows
    with ctx.stage("denoise"):
        while not state.done:
            state = ctx.gpu_call(denoise_call, spec, request, cond, state, ctx.gpu_budget_s)
            step, window = divmod(state.finished - 1, windows)
            ctx.count(state.finished, total, "denoising",
                      f"window steps (step {step + 1}/{steps}, window {window + 1}/{windows})")
            ctx.check_cancelled()
    return state.latents


def decode_call(spec: ModelSpec, latents: torch.Tensor, start: int, budget_s: float,
                cache: list | None) -> tuple[list[torch.Tensor], int, list]:
    """GPU call: decode latent frames from ``start`` for ``budget_s`` seconds (at least one), resuming the
    decoder's causal cache (see ``core.wan.vae.decode_range``)."""
    from core.wan import vae

    models = spec.load()
    with on_device(models.vae):
        return vae.decode_range(models.vae, latents, start, budget_s, models.device, cache)


def _decoded_chunks(spec: ModelSpec, latents: torch.Tensor, ctx: JobContext):
    """Decoded chunks in order: streamed from one decoder pass when GPU calls run here, else fetched call by call
    with the causal cache carried between them."""
    from core.wan import vae

    if ctx.for_gpu_call() is ctx:
        models = spec.load()
        with on_device(models.vae), contextlib.closing(vae.decode_stream(models.vae, latents, models.device)) as s:
            yield from s
        return
    start, cache = 0, None
    while start < latents.shape[2]:
        chunks, start, cache = ctx.gpu_call(decode_call, spec, latents, start, ctx.gpu_budget_s, cache)
        yield from chunks


def decode(spec: ModelSpec, latents: torch.Tensor, frames: int, reference: np.ndarray, strength: float,
           sink, ctx: JobContext) -> int:
    """Stream decoded frames to ``sink`` until ``frames`` are out; returns the number written."""
    target = colour.lab_stats(reference) if strength > 0 else None
    written, total = 0, latents.shape[2]
    chunks = _decoded_chunks(spec, latents, ctx)
    with contextlib.closing(chunks):
        for index in range(total):
            with ctx.stage("vae decode"):
                chunk = next(chunks).numpy()[:frames - written]
            if target is not None:
                with ctx.stage("colour"):
                    chunk = colour.match(chunk, target, strength)
            if len(chunk):
                sink(chunk)
                written += len(chunk)
            ctx.count(index + 1, total, "decoding", "latent frames")
            ctx.check_cancelled()
            if written >= frames:
                break
    return written


def _generate(request: AvatarRequest, ctx: JobContext, steps: int, max_latents: int | None, name: str) -> JobResult:
    from core.audio.prepare import driving_audio
    from core.media import EncoderThread, VideoWriter, frames_needed

    # 1. Reference image, driving audio (the job runner resolved the weights, device, dtype and memory mode).
    width, height = request.width_height
    ctx.progress(0.0, "loading the reference image, audio and models")
    with ctx.stage("load"):
        reference, frame = reference_frame(request.image, width, height)
        speech, track = driving_audio(request.audio, ctx, SR, request.checkpoints, span=(0.0, 0.03))
    frames = frames_needed(len(speech) / SR, FPS)
    latents = sampling.latent_frames(frames)
    if max_latents is not None and latents > max_latents:      # preview: the first window only
        latents = max_latents
        frames = sampling.video_frames(latents)
        speech, track = speech[:frames * wan_audio.FRAME], (speech[:frames * wan_audio.FRAME], SR)
    windows = sampling.plan_windows(latents, request.overlap)
    spec = ModelSpec(str(ctx.root), str(ctx.device), str(ctx.dtype).removeprefix("torch."), ctx.memory)
    with oom_guard("choose a memory mode with offload, or a smaller size"):
        if ctx.for_gpu_call() is ctx:  # in a GPU worker the models load inside its first call instead
            with ctx.stage("load"), ctx.span(0.03, 0.08):
                ctx.progress(0.0, "loading models")
                spec.load()
        # 2. Text, image and audio conditioning, once per job.
        with ctx.span(0.08, 0.12):
            ctx.progress(0.0, "text, image and audio embeddings")
            heard = wav2vec_input(request, speech, ctx)  # rest stretches silenced (rest.py); the track stays as is
            cond = ctx.gpu_call(condition_call, spec, request, frame, heard, windows, ctx.for_gpu_call())
        # 3-4. Seeded noise and windowed denoising.
        with ctx.span(0.12, 0.9):
            final = denoise(spec, request, cond, latents, steps, ctx)
        # 5. Streaming decode into the encoder, cut to the audio's length, audio muxed.
        out_path = ctx.job_dir / name
        last: list[np.ndarray] = []

        def sink(batch: np.ndarray) -> None:
            encoder.put(batch)
            last[:] = [batch[-1]]

        with VideoWriter(out_path, fps=FPS, audio=track, crf=request.crf) as writer, \
                EncoderThread(writer, ctx.stage) as encoder, ctx.span(0.9, 1.0):
            written = decode(spec, final, frames, reference, request.colour_correction, sink, ctx)
    return ctx.result(out_path, frames=written, width=width, height=height, latents=latents, windows=len(windows),
                      steps=steps, seconds=len(speech) / SR, last_frame=last[0])


def run(request: AvatarRequest, ctx: JobContext) -> JobResult:
    result = _generate(request, ctx, request.steps, None, "avatar.mp4")
    result.extra.pop("last_frame")
    return result


def preview(request: AvatarRequest, ctx: JobContext) -> JobResult:
    """The first window (up to 81 frames, 3.24 s) at draft steps (10), with its driving audio. The result is the
    window's last frame as a PNG (how the identity holds after 3 s); ``extra["video"]`` is the clip."""
    from PIL import Image

    result = _generate(request, ctx, min(request.steps, PREVIEW_STEPS), sampling.WINDOW, "preview.mp4")
    png = ctx.job_dir / "preview_last_frame.png"
    Image.fromarray(result.extra.pop("last_frame")).save(png)
    result.extra["video"] = result.output
    result.output = png
    result.extra["notes"] = [f"preview clip: {result.extra['video']}"]
    return result
