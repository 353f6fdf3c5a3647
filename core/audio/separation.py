"""Vocal separation with audio-separator's MDX-Net code path (Kim_Vocal_2.onnx), loaded once per process.

We drive ``audio_separator.separator.architectures.mdx_separator.MDXSeparator`` directly rather than the
``Separator`` facade, because the facade (a) insists on a system ffmpeg outside pytest, (b) downloads UVR's
``download_checks.json`` and ``model_data_new.json`` from GitHub on every fresh model folder, and (c) finds the
model's STFT parameters by the MD5 of the file's last 10,000 KiB in those lists, so no file but the official one can
load. The architecture class takes the same parameters as ``common_config["model_data"]``: that is the supported
mechanism we use, with the UVR entry for Kim_Vocal_2 pinned in ``core.audio.weights.MDX_PARAMS``. Everything else
(ONNX Runtime session, chunking with overlap, STFT/iSTFT, compensation, stem writing) is the package's own code.
ONNX Runtime runs on CUDA when onnxruntime-gpu provides CUDAExecutionProvider, else on CPU.
"""
from __future__ import annotations

import hashlib
import logging
import math
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core import weights
from core.audio import weights as manifest
from core.cache import default_cache
from core.device import resolve_device

SEPARATION_RATE = 44100  # the rate every UVR MDX model was trained at
STEM_NAMES = {"Vocals": "vocals", "Instrumental": "accompaniment"}
MDX_ARCH = {"hop_length": 1024, "segment_size": 256, "overlap": 0.25, "batch_size": 1, "enable_denoise": False}

ChunkFn = Callable[[int, int], None]  # (chunks done, chunks total)


def uvr_model_hash(path: Path) -> str:
    """audio-separator's model key: MD5 of the last 10,000 KiB (of the whole file when smaller)."""
    tail = 10000 * 1024
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size > tail:
            fh.seek(size - tail)
        return hashlib.md5(fh.read()).hexdigest()


def _chunk_count(n_samples: int, chunk_size: int, trim: int, overlap: float) -> int:
    """Number of model windows MDXSeparator.demix runs over ``n_samples`` (mirrors its padding and step)."""
    gen_size = chunk_size - 2 * trim
    pad = gen_size + trim - (n_samples % gen_size)
    total = trim + n_samples + pad
    step = int((1 - overlap) * chunk_size)
    return math.ceil(total / step)


def _mdx_class():
    with warnings.catch_warnings():  # pydub warns at import that ffmpeg is absent; we never use pydub
        warnings.simplefilter("ignore", RuntimeWarning)
        from audio_separator.separator.architectures import mdx_separator
    # demix() draws its own tqdm bar per pass; our window count already reports progress through the job.
    mdx_separator.tqdm = lambda iterable, *args, **kwargs: iterable
    MDXSeparator = mdx_separator.MDXSeparator

    class ProgressMDX(MDXSeparator):
        """MDXSeparator that reports each model window, so long tracks show progress and can be cancelled."""

        on_chunk: Callable[[], None] | None = None

        def run_model(self, mix, is_match_mix=False):
            result = super().run_model(mix, is_match_mix=is_match_mix)
            if self.on_chunk is not None:
                self.on_chunk()
            return result

    return ProgressMDX


@dataclass
class Stems:
    vocals: np.ndarray         # [N, 2] float32 at SEPARATION_RATE, same scale as the input mix
    accompaniment: np.ndarray  # [N, 2]


class VocalSeparator:
    """One loaded MDX model; ``separate`` is serialised because the architecture object keeps per-file state."""

    def __init__(self, model_path: Path, device: str | None = "auto"):
        import onnxruntime as ort
        import torch

        self.model_path = Path(model_path)
        self.model_hash = uvr_model_hash(self.model_path)
        torch_device = resolve_device(device)
        providers = ["CPUExecutionProvider"]
        if torch_device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        self.providers = providers
        logger = logging.getLogger("mouthpiece.audio_separator")
        logger.setLevel(logging.ERROR)  # the package logs each stem write as a warning
        common = {
            "logger": logger, "log_level": logging.WARNING,
            "torch_device": torch_device, "torch_device_cpu": torch.device("cpu"), "torch_device_mps": None,
            "onnx_execution_provider": providers,
            "model_name": self.model_path.stem, "model_path": str(self.model_path),
            "model_data": dict(manifest.MDX_PARAMS),
            "output_format": "WAV", "output_bitrate": None, "output_dir": tempfile.gettempdir(),
            # The input is pre-scaled to peak 1.0, so the package's own peak handling is the identity (see separate()).
            "normalization_threshold": 1.0, "amplification_threshold": 0.0,
            "output_single_stem": None, "invert_using_spec": False, "sample_rate": SEPARATION_RATE,
            "use_soundfile": True,
        }
        try:
            self._model = _mdx_class()(common_config=common, arch_config=dict(MDX_ARCH))
        except Exception as exc:
            if weights.is_onnxruntime_error(exc):
                raise weights.corrupt_file(self.model_path, exc) from None
            raise
        self._model.resolve_execution_policy("mdx")
        self._lock = threading.Lock()

    def windows(self, n_samples: int) -> int:
        """Model windows for a mix of ``n_samples``: the vocal pass plus the match-mix pass of the secondary stem."""
        m = self._model
        chunk = MDX_ARCH["hop_length"] * (MDX_ARCH["segment_size"] - 1)
        trim = m.n_fft // 2
        return _chunk_count(n_samples, chunk, trim, MDX_ARCH["overlap"]) + _chunk_count(n_samples, chunk, trim, 0.02)

    def separate(self, mix: np.ndarray, on_chunk: ChunkFn | None = None) -> Stems:
        """Split a [N, 2] float32 mix at 44.1 kHz into vocals and accompaniment, both at the mix's scale.

        MDXSeparator scales its output by the input's peak and renormalises stems it writes; feeding a mix whose peak
        is exactly 1.0 with a 1.0 threshold makes both steps the identity, and we restore the true level afterwards.
        """
        peak = float(np.max(np.abs(mix)))
        if peak <= 0:
            silent = np.zeros_like(mix, dtype=np.float32)
            return Stems(silent, silent.copy())
        total = self.windows(mix.shape[0])
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if on_chunk is not None:
                on_chunk(min(done, total), total)

        with self._lock:
            job = Path(tempfile.mkdtemp(prefix="mouthpiece-sep-"))
            try:
                source = job / "mix.wav"
                sf.write(source, (mix / peak).astype(np.float32), SEPARATION_RATE, subtype="FLOAT")
                self._model.output_dir = str(job)
                self._model.on_chunk = tick
                try:
                    written = self._model.separate(str(source), custom_output_names=STEM_NAMES)
                finally:
                    self._model.on_chunk = None
                    self._model.clear_gpu_cache()
                    self._model.clear_file_specific_paths()
                stems = {Path(p).stem: p for p in written}
                vocals, _ = sf.read(job / stems["vocals"], dtype="float32", always_2d=True)
                accompaniment, _ = sf.read(job / stems["accompaniment"], dtype="float32", always_2d=True)
            finally:
                shutil.rmtree(job, ignore_errors=True)
        return Stems(vocals * peak, accompaniment * peak)


def get_separator(model_path: Path, device: str | None = "auto") -> VocalSeparator:
    """The process-wide separator for this model file and device, loaded on first use (through the model cache)."""
    path = Path(model_path).resolve()
    stat = path.stat()
    key = ("audio.vocal_separator", str(resolve_device(device)), "fp32", str(path), stat.st_size, stat.st_mtime_ns)
    return default_cache().get(key, lambda: VocalSeparator(path, device))


__all__ = ["SEPARATION_RATE", "Stems", "VocalSeparator", "get_separator", "uvr_model_hash"]
