"""Every input a creator may drop in, read and written through PyAV (bundled FFmpeg) and Pillow.

probe / classify identify files by content; iter_video_frames / iter_video_batches stream upright RGB frames at a
constant fps; load_audio gives mono float32 at any rate; load_image gives upright RGB; VideoWriter writes
H.264 + AAC atomically.
"""
from __future__ import annotations

import os

from core.media.audio import iter_audio, load_audio, save_wav
from core.media.image import load_image
from core.media.probe import MediaInfo, StreamInfo, probe
from core.media.video import count_output_frames, iter_video_batches, iter_video_frames
from core.media.writer import EncoderThread, VideoWriter, frames_needed


def classify(path: str | os.PathLike) -> str:
    """'video' | 'audio' | 'image', decided by probing the content (a .mp4 holding only audio is 'audio')."""
    return probe(path).kind


__all__ = [
    "EncoderThread",
    "MediaInfo",
    "StreamInfo",
    "VideoWriter",
    "classify",
    "count_output_frames",
    "frames_needed",
    "iter_audio",
    "iter_video_batches",
    "iter_video_frames",
    "load_audio",
    "load_image",
    "probe",
    "save_wav",
]
