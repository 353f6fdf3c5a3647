"""Live: a face that speaks while the audio arrives (issue 17, part 2).

The session contract (``core.sessions`` runs it; an engine declares it with ``live=`` on its registry line):

- ``open_session(request, ctx) -> session``: validate and prepare everything that does not depend on the audio (for
  lip-dub: the idle video through the preparation cache, the models); raise ``BadInputError`` in one line first;
- ``session.push(samples, rate) -> LiveChunk | None``: mono float32 audio as it arrives; returns the frames that
  became ready (with their own audio, for a player to keep them in sync), or None;
- ``session.finish() -> LiveChunk | None``: the audio has ended; the last frames;
- ``session.close()``: drop what the session holds (the lifecycle releases the GPU lock).

Modules: ``request`` (``LiveRequest``), ``features`` (rolling whisper buffer with look-ahead), ``lipdub`` (the
MuseTalk session), ``cli`` (``python -m core live``: a file fed as a microphone, with a per-chunk latency log).
"""
