"""Item 1 of issue 12: driving audio against ``librosa.load(path, sr=16000)``, as both references load it.

    python tests/golden/media_resample.py [file ...]

Without arguments it writes a 22.05 kHz speech file with espeak-ng and a 44.1 kHz stereo noise file, then prints the
largest sample difference to librosa for ``core.media.load_audio`` now and for libswresample's defaults (what
load_audio used before: ``iter_audio`` straight at 16 kHz mono), and where the old differences sit in frequency.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.media import iter_audio, load_audio

SR = 16000


def librosa_samples(path: Path) -> np.ndarray:
    import librosa

    return librosa.load(str(path), sr=SR)[0]


def swresample_samples(path: Path) -> np.ndarray:
    """libswresample at its defaults, straight to 16 kHz mono (the old load_audio, without its trimming)."""
    return np.concatenate([c[0] for c in iter_audio(path, SR, "mono")])


def stereo_noise(path: Path, seconds: float = 1.5, rate: int = 44100) -> Path:
    rng = np.random.default_rng(0)
    sf.write(str(path), (rng.standard_normal((int(seconds * rate), 2)) * 0.2).clip(-1, 1), rate, subtype="PCM_16")
    return path


def high_band_share(d: np.ndarray, hz: float = 7000.0) -> float:
    """Share of the difference's energy above `hz`."""
    spec = np.abs(np.fft.rfft(d)) ** 2
    freqs = np.fft.rfftfreq(d.size, 1 / SR)
    return float(spec[freqs > hz].sum() / max(spec.sum(), 1e-30))


def report(path: Path) -> None:
    ref = librosa_samples(path)
    now = load_audio(path, sr=SR)
    old = swresample_samples(path)
    n = min(ref.size, old.size)
    d_old = old[:n] - ref[:n]
    print(f"{path.name} ({sf.info(str(path)).samplerate} Hz): {ref.size} samples; load_audio {now.size}, "
          f"max |diff| {np.abs(now - ref[:now.size]).max():.2e}; libswresample max |diff| {np.abs(d_old).max():.4f} "
          f"({high_band_share(d_old):.1%} of its energy above 7 kHz)")


if __name__ == "__main__":
    files = [Path(a) for a in sys.argv[1:]]
    with tempfile.TemporaryDirectory() as tmp:
        if not files:
            from tests.samples import speech_wav

            files = [speech_wav(Path(tmp) / "speech.wav"), stereo_noise(Path(tmp) / "noise.wav")]
        for f in files:
            report(f)
