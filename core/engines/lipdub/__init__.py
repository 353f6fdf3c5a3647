"""Lip-dub engine: MuseTalk 1.5 / 1.0 on any video or photo, streaming, with a prepared-video cache.

Choices and deliberate differences from the reference (TMElyralab/MuseTalk):
- Face track without mmcv/mmpose: facexlib RetinaFace (MobileNet-0.25) boxes; facexlib's AWing FAN gives 98 WFLW
  points, mapped to the 68 iBUG points with the standard table (facexlib ``landmark_98_to_68``). The reference's
  crop rule then applies unchanged (anchor landmark 29 + bbox_shift, chin bottom, mirrored top, landmark x extent,
  v1.5 extra_margin), the box clamped to the frame. Several faces: the largest, the N-th from the left, or the one
  under a point, followed by overlap. Frames where it is not found pass through untouched.
- A manual box (x1,y1,x2,y2) is the crop box itself; bbox_shift and extra_margin do not apply to it.
- Boxes are smoothed over time (centred 5-frame mean) unless ``smooth=False`` (reference-exact crops).
- bbox_shift is honoured in v1.5 too (the reference's scripts force 0; its app passes the creator's value).
- VAE posterior samples are drawn per source frame from a generator seeded by (seed, frame): reproducible runs,
  the same sample for a frame every time the ping-pong loop revisits it (the reference samples once per frame too).
- v1 ("MuseTalk 1.0") follows the reference's current ``--version v1`` path: raw parsing mask, no extra margin.
- Rest on silence (default ``rest="on"``; ``--rest off`` is the reference): where silero-vad finds no speech the
  UNet is driven by the whisper features of digital silence, ramped in and out over 3 frames by blending the
  prompts; ``--rest source`` keeps the source frames there instead (``rest.py``). The reference drives every frame
  with its audio window.
- Every frame keeps its place: frames without a face are not dropped (the reference misaligns latents there), the
  output is one H.264 + AAC encode at 25 fps lasting as long as the driving audio.
"""
from .pipeline import preview, run
from .request import LipdubRequest

__all__ = ["LipdubRequest", "preview", "run"]
