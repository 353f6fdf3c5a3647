"""The speech map (core.audio.vad) on real speech: espeak-ng sentences joined with known pauses over a music-like
tone bed, and the bad inputs of issue 19 (music only, speech throughout, very short, 8 kHz telephone audio, long
silent head and tail)."""
import argparse
import time

import numpy as np
import pytest
import soundfile as sf

from core.audio import dsp, vad
from core.audio.cli import add_audio_args, audio_options_from_args
from core.audio.options import AudioOptions
from core.audio.prepare import driving_audio, prepare_audio, speech_probabilities
from core.audio.rest import speech_map_for
from core.errors import BadInputError
from tests.samples import speech_wav

SR = 16000
FPS = 25
TEXTS = ("The quick brown fox jumps over the lazy dog", "We make talking video from one photo",
         "Speech detection should find every pause", "Music plays softly under the voice")
PAUSES = (0.1, 0.3, 1.0)


@pytest.fixture(scope="module")
def sentences(tmp_path_factory) -> list[np.ndarray]:
    """Each sentence at 16 kHz, trimmed to its first and last sample above -60 dBFS."""
    d = tmp_path_factory.mktemp("vad")
    out = []
    for i, text in enumerate(TEXTS):
        x, rate = sf.read(str(speech_wav(d / f"s{i}.wav", text)), dtype="float32")
        x = dsp.resample(x, rate, SR)
        loud = np.flatnonzero(np.abs(x) > 1e-3)
        out.append(x[loud[0]:loud[-1] + 1])
    return out


def _bed(n: int, amplitude: float) -> np.ndarray:
    """A music-like bed: an A-minor-ish chord with a 2 Hz swell, under the whole clip."""
    t = np.arange(n) / SR
    chord = np.sin(2 * np.pi * 220 * t) + 0.7 * np.sin(2 * np.pi * 277 * t) + 0.5 * np.sin(2 * np.pi * 330 * t)
    return (amplitude * chord * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def _joined(sentences, order, head=0.5, tail=0.5):
    """Sentences in ``order`` with PAUSES of digital silence between them; the pauses' (start, end) in seconds."""
    parts, pauses, t = [np.zeros(int(head * SR), np.float32)], [], head
    for k, i in enumerate(order):
        parts.append(sentences[i])
        t += len(sentences[i]) / SR
        if k < len(PAUSES):
            gap = round(PAUSES[k] * SR)
            pauses.append((t, t + gap / SR))
            parts.append(np.zeros(gap, np.float32))
            t += gap / SR
    parts.append(np.zeros(int(tail * SR), np.float32))
    return np.concatenate(parts), pauses


@pytest.mark.parametrize("order,amplitude", [((0, 1, 2, 3), 0.0), ((1, 2, 3, 0), 0.02), ((3, 2, 0, 1), 0.05)])
def test_rest_frames_match_the_inserted_pauses(sentences, order, amplitude):
    clean, pauses = _joined(sentences, order)
    audio = clean + _bed(len(clean), amplitude)
    started = time.perf_counter()
    speech = vad.speech_map(audio)
    seconds = time.perf_counter() - started
    assert speech.prob.size == int(np.ceil(len(audio) * FPS / SR))
    spans = [(a * FPS, b * FPS) for a, b in speech.rest_spans()]
    inner = [s for s in spans if 0 < s[0] and s[1] < speech.prob.size]
    assert spans[0][0] == 0 and abs(spans[0][1] - 0.5 * FPS) <= 2          # the 0.5 s head rests
    assert spans[-1][1] == speech.prob.size and abs(spans[-1][0] - (len(audio) / SR - 0.5) * FPS) <= 2
    gap = pauses[0]
    assert speech.speech[int(gap[0] * FPS):int(np.ceil(gap[1] * FPS))].all()  # the 0.1 s gap stays speech
    errors = []
    for a, b in pauses[1:]:
        hits = [s for s in inner if s[0] < b * FPS and s[1] > a * FPS]
        assert len(hits) == 1, (a, b, inner)
        errors += [hits[0][0] - a * FPS, hits[0][1] - b * FPS]
    assert len(inner) == 2  # no other rest inside the sentences
    assert max(abs(e) for e in errors) <= 2, errors  # ±2 frames
    print(f"bed {amplitude}: boundary errors (frames) {[round(e, 1) for e in errors]}; "
          f"{len(audio) / SR:.1f} s of audio in {seconds * 1000:.0f} ms")


def test_min_pause_is_the_creators(sentences):
    audio, pauses = _joined(sentences, (0, 1, 2, 3))
    prob = speech_probabilities(audio)
    a, b = pauses[1]  # the 0.3 s pause
    middle = int((a + b) / 2 * FPS)
    assert not vad.decide(prob, FPS, 0.25)[middle]
    assert vad.decide(prob, FPS, 0.5)[middle]  # a 0.5 s minimum keeps the 0.3 s pause as speech


def _file(tmp_path, name, samples, rate=SR):
    path = tmp_path / name
    sf.write(path, samples, rate, subtype="FLOAT" if rate == SR else "PCM_16")
    return str(path)


def test_music_only_is_refused_unless_rest_is_off(tmp_path):
    music = _file(tmp_path, "music.wav", _bed(2 * SR, 0.2))
    with pytest.raises(BadInputError, match=r"^no speech found in the driving audio .* turn rest off \(--rest off\)$"):
        driving_audio(AudioOptions(music))
    samples, _ = driving_audio(AudioOptions(music, rest="off"))
    assert len(samples) == 2 * SR


def test_speech_throughout_has_no_rest_and_no_warning(sentences, tmp_path):
    from core.jobs import JobContext

    path = _file(tmp_path, "talk.wav", sentences[0])
    ctx = JobContext(tmp_path / "job")
    samples, _ = driving_audio(AudioOptions(path), ctx)
    speech = speech_map_for(AudioOptions(path), samples, SR, ctx)
    assert speech.speech.all() and ctx.warnings == []


def test_long_silent_head_and_tail_rest(sentences, tmp_path):
    audio = np.concatenate([np.zeros(2 * SR, np.float32), sentences[1], np.zeros(2 * SR, np.float32)])
    speech = speech_map_for(AudioOptions(_file(tmp_path, "padded.wav", audio)), audio)
    spans = speech.rest_spans()
    assert len(spans) == 2
    assert spans[0][0] == 0 and abs(spans[0][1] - 2.0) <= 2 / FPS
    assert spans[1][1] == speech.prob.size / FPS and abs(spans[1][0] - (len(audio) / SR - 2.0)) <= 2 / FPS


def test_telephone_audio_at_8khz(sentences, tmp_path):
    audio, pauses = _joined(sentences, (0, 1, 2, 3))
    path = _file(tmp_path, "phone.wav", dsp.resample(audio, SR, 8000), rate=8000)
    samples, _ = driving_audio(AudioOptions(path))
    speech = speech_map_for(AudioOptions(path), samples, SR)
    wide = speech_map_for(AudioOptions(path), audio, SR)
    assert abs(speech.prob.size - wide.prob.size) <= 1
    n = min(speech.prob.size, wide.prob.size)
    assert np.mean(speech.speech[:n] == wide.speech[:n]) > 0.95  # the band-limited voice is still found
    a, b = pauses[2]
    assert speech.rest[int(a * FPS) + 3:int(b * FPS) - 3].all()


def test_very_short_audio(sentences, tmp_path):
    word = sentences[0][: int(0.1 * SR)]  # 0.1 s: 2.5 frames, under one 0.25 s pause
    speech = vad.speech_map(word)
    assert speech.prob.size == 3 and speech.speech.dtype == bool
    assert vad.speech_map(np.zeros(100, np.float32)).rest.all()  # shorter than one model window
    path = _file(tmp_path, "short.wav", word)
    try:
        samples, _ = driving_audio(AudioOptions(path))
    except BadInputError as exc:  # a tenth of a second may hold no detectable speech: one line, not a crash
        assert str(exc).startswith("no speech found")
    else:
        assert speech_map_for(AudioOptions(path), samples).speech.any()


def test_cached_with_the_prepared_audio(sentences, tmp_path):
    path = _file(tmp_path, "cached.wav", np.concatenate([sentences[2], np.zeros(SR, np.float32), sentences[3]]))
    prepared = prepare_audio(AudioOptions(path, normalize="peak"))
    assert prepared.speech_prob.shape == prepared.silence.shape
    again = prepare_audio(AudioOptions(path, normalize="peak", rest="off", rest_min_pause=0.5))
    assert again.cache_hit  # rest choices do not redo the preparation
    np.testing.assert_array_equal(again.speech_prob, prepared.speech_prob)
    driving = prepared.driving_samples()
    started = time.perf_counter()
    np.testing.assert_array_equal(speech_probabilities(driving), prepared.speech_prob)  # from the cache
    assert time.perf_counter() - started < 0.5
    assert prepared.speech_map().rest_spans()  # the one-second pause


def test_flags_and_validation(tmp_path):
    parser = argparse.ArgumentParser()
    add_audio_args(parser)
    options = audio_options_from_args(parser.parse_args(["--audio", "a.wav", "--rest", "off",
                                                         "--rest-min-pause", "0.4"]))
    assert (options.rest, options.rest_min_pause) == ("off", 0.4)
    assert audio_options_from_args(parser.parse_args(["--audio", "a.wav"])).rest == "on"
    path = _file(tmp_path, "a.wav", np.zeros(SR, np.float32))
    with pytest.raises(BadInputError, match=r"^Rest on silence must be one of on \| off \| source, got 'maybe'$"):
        AudioOptions(path, rest="maybe").validate()
    with pytest.raises(BadInputError, match=r"^Minimum pause must be 0.04..2, got 5$"):
        AudioOptions(path, rest_min_pause=5).validate()


def test_prepare_audio_cli_writes_the_speech_map(sentences, tmp_path):
    import json

    from core.cli import main as cli_main

    path = _file(tmp_path, "two.wav", np.concatenate([sentences[0], np.zeros(SR, np.float32), sentences[1]]))
    out = tmp_path / "p"
    assert cli_main(["prepare-audio", "--audio", path, "--out-dir", str(out), "--rest-min-pause", "0.5"]) == 0
    speech = json.loads((out / "speech.json").read_text())
    assert speech["min_pause"] == 0.5 and len(speech["speech"]) == len(speech["probability"])
    (a, b), = speech["rest_spans"]
    assert abs(a - len(sentences[0]) / SR) <= 0.1 and abs(b - (len(sentences[0]) / SR + 1)) <= 0.1
