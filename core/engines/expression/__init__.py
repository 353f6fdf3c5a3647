"""Expression control: face edits (LivePortrait keypoint sliders, retargeting MLPs, transfer), keyframes, auto
blink and MoDA's emotion timeline, on a photo (still or with audio) or a video.

``from core.engines.expression import ExpressionRequest, run, preview``.

Deviations from the references (AdvancedLivePortrait ``nodes.py``, LivePortrait's retargeting tab, MoDA):
- Keypoints are composed as LivePortrait and MoDA do, x_d = s * (x_c @ R + exp) + t; AdvancedLivePortrait rotates
  the expression with the head ((x_c + exp) @ R). The slider amounts per unit are the references' exactly.
- Gaze y couples into blink as AdvancedLivePortrait does (brow keypoints 1 and 2 included); LivePortrait's tab omits
  the brow terms. Wink turns roll and yaw by -0.1 deg per unit and "aaa" pitch by -0.05, as AdvancedLivePortrait.
- Emotion strength is guidance on top of the audio guidance: u + cfg (all - u) + strength (emo - u), i.e. the
  reference's commented-out u + s_emo (emo - u) + s_audio (all - emo) with s_emo = cfg + strength; strength 0 is
  MoDA's shipped 2-branch output exactly. Emotions change per 80-frame chunk (majority of the chunk's frames), and a
  change crossfades inside the 16-frame chunk overlap (1..16 frames).
- Video edit: frames are resampled to 25 fps; each frame is cropped (the face under the previous frame's box
  centre, or a fixed box) and re-rendered from itself; pose, translation and non-feature expression rows are
  smoothed with a centred moving average (LivePortrait smooths driving motion with a Kalman filter), while mouth and
  eye rows stay each frame's own. Emotion timelines need MoDA motion, so they apply to photo + audio only.
- Photo + audio rests on silence (default ``rest="on"``; ``--rest off`` is MoDA's behaviour): where silero-vad finds
  no speech the lip rows ease into the photo's and LivePortrait's lip retargeting closes them
  (``core.liveportrait.rest``), while head motion, blinks, edits and the emotion's other rows continue.
- Auto blink has no reference: seeded intervals around 60 / rate s, a 9-frame cosine dip of the blink slider.
- Presets and keyframe/timeline files are YAML (AdvancedLivePortrait saves pickles).
"""
from .pipeline import preview, run
from .request import ExpressionRequest

__all__ = ["ExpressionRequest", "preview", "run"]
