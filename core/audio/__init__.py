"""Audio preparation shared by every engine: decode, trim, vocal separation, normalisation, silence map, output track.

Engine integration (request fields named like ``AudioOptions``: audio, start, end, separate_vocals, keep_audio,
normalize, device)::

    from core.audio.prepare import prepare_audio
    from core.audio.options import AudioOptions

    prepared = prepare_audio(AudioOptions.from_request(req), ctx, span=(0.0, 0.1))
    samples = load_audio(prepared.driving_wav, sr=16000)          # 16 kHz mono float: the audio encoder's input
    n_frames = frames_needed(prepared.duration, 25)
    with VideoWriter(out, fps=25, size=(w, h), audio=prepared.output_audio) as writer: ...
    # prepared.silence: bool per 25 fps frame (True = no sound): the silent-audio refusal only; where the face
    # rests comes from the speech map: core.audio.rest.speech_map_for(options, samples, sr, ctx, frames)

CLI: ``core.audio.cli.add_audio_args(parser)`` adds --start --end --separate-vocals --keep-audio --normalize
(--peak-dbfs --loudness-lufs); ``audio_options_from_args(args)`` builds the AudioOptions. UI: ``ui.audio_panel``.

This package stays light so the weights registry can import the manifest ``core.audio.weights`` cheaply.
"""
