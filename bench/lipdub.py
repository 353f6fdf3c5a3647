"""Lip-dub throughput per stage with full-size random weights (the official architectures), plus peak memory.

    flock /tmp/mouthpiece-heavy.lock python bench/lipdub.py [--seconds 1] [--audio-seconds 2] [--size 1280x720]
        [--batch 8] [--device auto] [--dtype auto] [--tiny] [--json out.json] [--memory full offload low]
    python bench/lipdub.py --blend-only [--size 1920x1080]

Stages: decode, face track (RetinaFace + FAN on the clip's frames), audio features (whisper-tiny), VAE encode,
parse (BiSeNet), UNet, VAE decode, blend, encode; then end to end for a first run (prepare + generate) and a second
run on the same video (prepared-video cache hit: generation only). Random weights cannot find faces, so the runs use
a manual box around the portrait's face and the face track is timed on its own. ``--tiny`` uses the tiny test
weights instead (fast; shows pipeline overheads and memory boundedness on long clips).
Peak RAM is the process's max RSS; peak GPU memory is torch.cuda.max_memory_allocated. ``peak_per_memory_profile``:
on CUDA, a cached run with each memory profile's freshly placed models (peak VRAM); on the CPU, where profiles change
nothing, the whole process's peak RAM under ``auto`` (``bench/profiles.py``).
``--blend-only`` times the CPU blend per output frame, quiet and with a busy loop pinned to one core, beside the
engine before issue 12 and the reference's ``get_image`` (mask made per frame) and cached-mask realtime paths.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import profiles
from bench.busy import print_table, side_by_side
from core import jobs
from core.audio.options import AudioOptions
from core.cache import default_cache
from core.engines.lipdub import LipdubRequest, run
from core.engines.lipdub import models as M
from core.engines.lipdub import weights as W
from core.engines.lipdub.face import landmarks as L
from core.media import iter_video_frames
from tests.golden import lipdub_blend as G
from tests.samples import make_tone, talking_clip

CKPT_FULL = Path(tempfile.gettempdir()) / "mouthpiece-bench-lipdub-full"


def write_full_random(root: Path) -> Path:
    """Full-size random models at the official names (UNet/VAE/BiSeNet/whisper-tiny/FAN/RetinaFace shapes)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    from core.engines.lipdub.face.bisenet import BiSeNet

    if (root / "DONE").is_file():
        return root
    W.make_test_checkpoints(root)  # the v1 UNet stays tiny (unused here); the rest is overwritten at full size
    torch.manual_seed(0)
    (root / W.UNET_V15[0]).write_text(json.dumps(W.OFFICIAL_UNET_CONFIG), encoding="utf-8")
    unet = UNet2DConditionModel.from_config(W.OFFICIAL_UNET_CONFIG)
    torch.save({k: v.half() for k, v in unet.state_dict().items()}, root / W.UNET_V15[1])  # fp16 file: half the disk
    del unet
    (root / W.VAE_DIR / "config.json").write_text(json.dumps(W.OFFICIAL_VAE_CONFIG), encoding="utf-8")
    save_file(AutoencoderKL.from_config(W.OFFICIAL_VAE_CONFIG).state_dict(),
              str(root / W.VAE_DIR / "diffusion_pytorch_model.safetensors"))
    tiny = WhisperConfig(d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6,
                         decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536, num_mel_bins=80,
                         vocab_size=51865, max_source_positions=1500, max_target_positions=448)
    WhisperForConditionalGeneration(tiny).save_pretrained(root / W.WHISPER_DIR)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(root / W.WHISPER_DIR)
    torch.save(BiSeNet(19, width=64).state_dict(), root / W.PARSER)
    (root / "DONE").write_text("full-size random weights for bench/lipdub.py\n")
    return root


def face_track_fps(root: Path, video: Path, box, device, n_max: int = 32) -> float:
    frames = np.stack([f for _, f in zip(range(n_max), iter_video_frames(video))])
    det, fan = M.load_detector(root, device), M.load_landmarker(root, device)
    boxes = np.tile(np.array(box, np.float32), (len(frames), 1))
    L.detect_faces(det, frames[:2], device), L.landmarks68(fan, frames[:2], boxes[:2], device)  # warm-up
    t = time.perf_counter()
    for a in range(0, len(frames), 16):
        L.detect_faces(det, frames[a:a + 16], device)
        L.landmarks68(fan, frames[a:a + 16], boxes[a:a + 16], device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(frames) / (time.perf_counter() - t)


def decode_fps(video: Path) -> float:
    t = time.perf_counter()
    n = sum(1 for _ in iter_video_frames(video))
    return n / (time.perf_counter() - t)


def blend_speed(w: int, h: int, repeats: int = 20) -> None:
    """ms per output frame for the astronaut scaled to w x h and a face box ~ 30 % of the frame's sides."""
    import cv2

    from core.engines.lipdub import blend as B
    from core.engines.lipdub.pipeline import blend_batch

    frame, face, mask = G.inputs()
    frame = cv2.resize(frame, (w, h))
    box = (int(0.33 * w), int(0.3 * h), int(0.64 * w), int(0.62 * h))  # its expanded crop stays in the frame
    alpha = B.frame_alpha(mask, box)
    crop, _ = B.crop_box(box)
    x, y, x1, y1 = box
    alpha_crop = np.zeros((crop[3] - crop[1], crop[2] - crop[0]), np.uint8)
    alpha_crop[y - crop[1]:y1 - crop[1], x - crop[0]:x1 - crop[0]] = alpha
    faces = torch.from_numpy(face).permute(2, 0, 1)[None].float()
    frames = frame[None].copy()
    old = G.old_blend()
    rows = {
        "ours (cached weights, cv2 + numpy)": lambda: blend_batch(frames, [0], faces, [alpha], [box], "cpu"),
        "before issue 12 (torch, mask per frame)": lambda: G.engine_before(frame, face, box, mask, old),
        "reference get_image (mask per frame)": lambda: G.reference_blend(frame, face, box, mask),
        "reference realtime (cached mask)": lambda: G.reference_realtime(frames[0], face, box, alpha_crop, crop),
    }
    print_table(f"lip-dub blend {w}x{h}, face box {x1 - x}x{y1 - y}", side_by_side(rows, repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="video length")
    ap.add_argument("--audio-seconds", type=float, default=None, help="audio length (default: the video's)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--tiny", action="store_true", help="tiny test weights instead of full-size random ones")
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--blend-only", action="store_true", help="only the CPU blend, quiet and beside a busy core")
    ap.add_argument("--memory", nargs="+", help="memory profiles (default: full offload low on CUDA, auto on CPU)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    if args.blend_only:
        return blend_speed(w, h)
    os.environ.setdefault("MOUTHPIECE_CACHE", tempfile.mkdtemp(prefix="lipdub-bench-cache-"))
    os.environ.setdefault("MOUTHPIECE_OUTPUTS", tempfile.mkdtemp(prefix="lipdub-bench-out-"))
    from core.device import resolve_device

    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.tiny:
            root = tmp / "tiny"
            W.make_test_checkpoints(root)
        else:
            root = write_full_random(CKPT_FULL)
        video = talking_clip(tmp / "clip.mp4", seconds=args.seconds, fps=25, size=(w, h))
        audio = make_tone(tmp / "voice.wav", seconds=args.audio_seconds or args.seconds, hz=220.0)
        # the portrait's face, scaled to the frame (astronaut.png 512x512: face ~ x 170-330, y 60-250)
        box = (int(170 / 512 * w), int(60 / 512 * h), int(330 / 512 * w), int(250 / 512 * h))
        print(f"device {device}, {w}x{h}, video {args.seconds}s, audio {args.audio_seconds or args.seconds}s, "
              f"batch {args.batch}, {'tiny' if args.tiny else 'full-size'} random weights, {torch.get_num_threads()} "
              "threads")
        track = face_track_fps(root, video, box, device)
        decode = decode_fps(video)
        req = LipdubRequest(video=str(video), audio=AudioOptions(str(audio), rest="off"), box=list(box),
                            checkpoints=str(root), batch_size=args.batch, device=args.device, dtype=args.dtype)
        first = jobs.run_job("lipdub", run, req)
        second = jobs.run_job("lipdub", run, req)
        peaks = {}
        for memory in profiles.profiles(args.memory, device.type == "cuda"):
            default_cache().unload_all()   # each profile loads and places its own models
            profiles.start(device.type == "cuda")
            req.memory = memory
            jobs.run_job("lipdub", run, req)
            what, mib = profiles.peak(device.type == "cuda")
            peaks[memory] = f"{what} {mib:.0f} MiB"
    n_src, n_out = first.extra["source_frames"], first.extra["frames"]
    per_frame = {"vae_encode": n_src, "parse": n_src, "audio_features": n_out, "unet": n_out,
                 "vae_decode": n_out, "blend": n_out, "encode": n_out, "latents": n_out}
    stages = {k: round(per_frame[k] / v, 2) for k, v in first.timings.items() if k in per_frame and v > 0}
    stages["face_track"] = round(track, 2)
    stages["decode"] = round(decode, 2)  # standalone; in the runs decoding overlaps the models on its own thread
    gen = sum(second.timings.get(k, 0) for k in ("audio_features", "latents", "unet", "vae_decode", "blend"))
    out = {
        "device": str(device), "size": [w, h], "source_frames": n_src, "output_frames": n_out,
        "stage_fps": stages,
        "end_to_end_fps_first_run": round(n_out / first.timings["total"], 2),
        "end_to_end_fps_cached_run": round(n_out / second.timings["total"], 2),
        "generation_fps_cached_run": round(n_out / gen, 2) if gen else None,
        "seconds_first_run": {k: round(v, 2) for k, v in first.timings.items()},
        "seconds_cached_run": {k: round(v, 2) for k, v in second.timings.items()},
        "peak_ram_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "peak_per_memory_profile": peaks,
    }
    if device.type == "cuda":
        out["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
