"""Through an engine's CLI: `python -m core lipdub --separate-vocals --keep-audio mix|vocals` carries the original
mix or the separated voice, checked against the sources by correlation.

Checkpoints: the session's tiny lip-dub weights, plus the "left_only" MDX graph (keeps the left channel's spectrogram
planes) as Kim_Vocal_2.onnx, so a stereo song of voice (left) and music (right) separates exactly.
"""
import os
import numpy as np
import pytest
import soundfile as sf

from core.audio import weights as manifest
from core.audio.decode import decode_audio
from core.cli import main as cli_main
from tests.samples import talking_clip, xcorr_peak

SR = 44100
SECONDS = 1.2


@pytest.fixture(scope="module")
def combined_checkpoints(test_checkpoints, tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt_engine_mux")
    for entry in test_checkpoints.iterdir():
        if entry.name != manifest.KIM_VOCAL_2.split("/")[0]:
            (root / entry.name).symlink_to(entry)
    manifest.build_mdx_onnx(root / manifest.KIM_VOCAL_2, np.diag([1.0, 1.0, 0.0, 0.0]))
    return root


def test_lipdub_cli_keeps_the_mix_or_the_vocals(combined_checkpoints, tmp_path):
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(combined_checkpoints)
    t = np.arange(int(SECONDS * SR)) / SR
    on = (t >= 0.2) & (t < 0.8)
    voice = np.zeros_like(t)
    voice[on] = 0.3 * np.sin(2 * np.pi * 300 * t[on]) * np.hanning(on.sum())
    music = 0.3 * np.sin(2 * np.pi * 1000 * t) + 0.1 * np.sin(2 * np.pi * 1500 * t)
    song = tmp_path / "song.wav"
    sf.write(song, np.stack([voice, music], 1).astype(np.float32), SR, subtype="FLOAT")
    clip = talking_clip(tmp_path / "clip.mp4", seconds=0.4, size=(128, 128))

    heard = {}
    for keep in ("mix", "vocals"):
        out = tmp_path / f"{keep}.mp4"
        code = cli_main(["lipdub", "--video", str(clip), "--audio", str(song), "--rest", "off", "--box", "32,24,96,112",
                         "--checkpoints", str(combined_checkpoints), "--separate-vocals", "--keep-audio", keep,
                         "--out", str(out)])
        assert code == 0
        muxed = decode_audio(out)
        heard[keep] = (muxed.samples.mean(axis=1), muxed.rate)

    def at(rate, signal):
        return np.interp(np.arange(int(SECONDS * rate)) / rate, t, signal)

    samples, rate = heard["mix"]
    assert xcorr_peak(samples, at(rate, (voice + music) / 2)) > 0.95 and xcorr_peak(samples, at(rate, voice)) < 0.8
    samples, rate = heard["vocals"]
    assert xcorr_peak(samples, at(rate, voice)) > 0.95 and xcorr_peak(samples, at(rate, (voice + music) / 2)) < 0.8
