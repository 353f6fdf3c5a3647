"""probe(): what a dropped-in file is (video / audio / image) and the facts the engines need about it."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import BadInputError
from core.media._common import check_file, decode_error, first_video_stream, open_input, timeline_zero

# Pillow formats treated as still images (an animated GIF/WebP goes through FFmpeg as video instead).
STILL_IMAGE_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "BMP", "TIFF", "GIF", "PPM", "TGA", "ICO"}
# EXIF orientations 5..8 swap width and height.
_EXIF_TRANSPOSED = {5, 6, 7, 8}
_VFR_SAMPLE_PACKETS = 300


@dataclass(frozen=True)
class StreamInfo:
    index: int
    type: str  # "video" | "audio" | "subtitle" | "data" | "attachment" | "unknown"
    codec: str | None
    attached_pic: bool = False  # cover art inside a music file, not a video


@dataclass(frozen=True)
class MediaInfo:
    """Facts about one input file. Times are seconds from the file's common time zero."""

    path: str
    kind: str  # "video" | "audio" | "image"
    container: str  # FFmpeg demuxer name, or Pillow format for images
    duration: float  # whole file (0.0 for images)
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)
    width: int = 0  # displayed size: after rotation (video) or EXIF orientation (image)
    height: int = 0
    stored_width: int = 0  # size of the coded picture before rotation
    stored_height: int = 0
    rotation: int = 0  # clockwise degrees a player turns the stored picture (0/90/180/270), like the old `rotate` tag
    fps: float = 0.0  # average frame rate
    vfr: bool = False  # frame durations vary (checked on the first few hundred packets)
    frame_count: int = 0  # from the container, else estimated from duration * fps
    video_duration: float = 0.0  # end of the last video frame
    video_codec: str | None = None
    has_audio: bool = False
    audio_rate: int = 0
    audio_channels: int = 0
    audio_codec: str | None = None
    audio_duration: float = 0.0

    @property
    def name(self) -> str:
        return Path(self.path).name


def probe(path: str | os.PathLike) -> MediaInfo:
    """Identify a file by its content (not its extension). Raises BadInputError naming the file."""
    p = check_file(path)
    image = _probe_image(p)
    if image is not None:
        return image
    return _probe_av(p)


def _probe_image(p: Path) -> MediaInfo | None:
    try:
        with Image.open(p) as im:
            fmt = im.format or ""
            if fmt not in STILL_IMAGE_FORMATS or getattr(im, "n_frames", 1) > 1:
                return None
            orientation = im.getexif().get(0x0112, 1)
            im.load()  # catches truncated/corrupt pixel data now, not later in an engine
            w, h = im.size
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"{p.name} is a corrupt or unsupported image ({exc})") from exc
    dw, dh = (h, w) if orientation in _EXIF_TRANSPOSED else (w, h)
    return MediaInfo(
        path=str(p), kind="image", container=fmt, duration=0.0, width=dw, height=dh, stored_width=w, stored_height=h
    )


def _probe_av(p: Path) -> MediaInfo:
    with open_input(p) as container:
        fmt = container.format.name
        streams = tuple(
            StreamInfo(
                index=s.index,
                type=s.type,
                codec=s.codec_context.name if s.codec_context is not None else None,
                attached_pic=bool(s.disposition & av.stream.Disposition.attached_pic),
            )
            for s in container.streams
        )
        vs = first_video_stream(container)
        aus = container.streams.audio[0] if container.streams.audio else None
        if fmt == "image2" or fmt.endswith("_pipe"):
            raise BadInputError(f"{p.name}: unsupported image format (use PNG, JPEG, WebP or BMP)")
        if vs is None and aus is None:
            raise BadInputError(f"{p.name} has no audio or video stream")
        for stream, what in ((vs, "video"), (aus, "audio")):
            if stream is not None and stream.codec_context is None:
                raise BadInputError(f"{p.name}: unsupported {what} codec (no decoder for it)")
        t0 = timeline_zero(container)
        cstart = container.start_time / 1e6 if container.start_time is not None else t0
        total = max(0.0, cstart + container.duration / 1e6 - t0) if container.duration is not None else 0.0
        info: dict = {"path": str(p), "container": fmt, "streams": streams}

        if aus is not None:
            info.update(
                has_audio=True,
                audio_rate=int(aus.codec_context.sample_rate or 0),
                audio_channels=int(aus.codec_context.channels or 0),
                audio_codec=aus.codec_context.name,
                audio_duration=_stream_end(aus, t0) or total,
            )
        if vs is None:
            _check_decodes(p, container, aus)
            info.update(kind="audio", duration=total or info["audio_duration"])
            return MediaInfo(**info)

        rotation, pts = _first_frame_rotation_and_pts(p, container, vs)
        fps = _average_fps(vs, pts)
        video_duration = _stream_end(vs, t0) or _scan_video_end(container, vs, t0, total) or total
        if not video_duration and fps:
            video_duration = (vs.frames or 0) / fps
        sw, sh = vs.codec_context.width, vs.codec_context.height
        dw, dh = (sh, sw) if rotation in (90, 270) else (sw, sh)
        info.update(
            kind="video",
            duration=total or video_duration,
            width=dw,
            height=dh,
            stored_width=sw,
            stored_height=sh,
            rotation=rotation,
            fps=fps,
            vfr=_is_vfr(pts, vs.time_base),
            frame_count=int(vs.frames or round(video_duration * fps)),
            video_duration=video_duration,
            video_codec=vs.codec_context.name,
        )
        return MediaInfo(**info)


def _stream_end(stream, t0: float) -> float:
    """End time of a stream relative to the file's time zero, 0.0 when the container does not say."""
    if stream.duration is None or stream.time_base is None:
        return 0.0
    start = stream.start_time if stream.start_time is not None else 0
    return float((start + stream.duration) * stream.time_base) - t0


def _scan_video_end(container, vs, t0: float, total: float) -> float:
    """End of the last video packet, read near the file's end (Matroska/WebM give no per-stream duration)."""
    if not total:
        return 0.0
    try:
        container.seek(int(max(0.0, t0 + total - 3.0) / vs.time_base), stream=vs, backward=True)
        end = 0.0
        for packet in container.demux(vs):
            if packet.pts is not None:
                end = max(end, float((packet.pts + (packet.duration or 0)) * vs.time_base))
        return end - t0 if end else 0.0
    except av.FFmpegError:
        return 0.0


def _check_decodes(p: Path, container, stream) -> None:
    """Decode the first frame of `stream` so that a corrupt file fails here with a clear message."""
    try:
        for packet in container.demux(stream):
            if packet.size and packet.decode():
                return
    except av.FFmpegError as exc:
        raise decode_error(p, exc) from exc
    raise BadInputError(f"{p.name} has no decodable {stream.type} frames")


def _first_frame_rotation_and_pts(p: Path, container, vs) -> tuple[int, list[int]]:
    """Decode the first frame (validates the file, reads the display matrix) and collect packet timestamps."""
    rotation = None
    pts: list[int] = []
    try:
        for packet in container.demux(vs):
            if packet.pts is not None:
                pts.append(packet.pts)
            if rotation is None and packet.size:
                for frame in packet.decode():
                    rotation = frame_rotation(frame, vs)
                    break
            if rotation is not None and len(pts) >= _VFR_SAMPLE_PACKETS:
                break
        if rotation is None:  # frames held back by the decoder (B-frames, threads)
            for frame in vs.decode(None):
                rotation = frame_rotation(frame, vs)
                break
    except av.FFmpegError as exc:
        raise decode_error(p, exc) from exc
    if rotation is None:
        raise BadInputError(f"{p.name} has no decodable video frames")
    return rotation, pts


def frame_rotation(frame, stream) -> int:
    """Clockwise degrees (0/90/180/270) to display `frame` upright: display matrix first, old `rotate` tag second."""
    ccw = getattr(frame, "rotation", 0) or 0
    if ccw:
        cw = -float(ccw)
    else:
        try:
            cw = float(stream.metadata.get("rotate", 0))
        except ValueError:
            cw = 0.0
    return int(round(cw / 90.0)) % 4 * 90


def _average_fps(vs, pts: list[int]) -> float:
    for rate in (vs.average_rate, vs.guessed_rate, vs.base_rate):
        if rate:
            return float(rate)
    diffs = np.diff(np.unique(pts)) if len(pts) > 1 else np.array([])
    if diffs.size and vs.time_base:
        return float(1.0 / (float(np.median(diffs)) * float(vs.time_base)))
    return 0.0


def _is_vfr(pts: list[int], time_base) -> bool:
    """True when packet durations deviate from their median by more than 15% (and more than one tick)."""
    diffs = np.diff(np.unique(np.asarray(pts, dtype=np.int64)))
    if diffs.size < 3 or time_base is None:
        return False
    med = float(np.median(diffs))
    tolerance = max(0.15 * med, 1.5)
    return bool(np.any(np.abs(diffs - med) > tolerance))
