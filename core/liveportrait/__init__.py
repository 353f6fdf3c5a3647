"""LivePortrait, shared by the photo (portrait) and expression engines: networks, strict checkpoint loading, face
crop, rendering, paste-back.

Public API (all tensors fp32 unless said; keypoints are row vectors, K = 21):

    from core.liveportrait import LivePortraitRenderer, SourceState, image_to_tensor
    from core.liveportrait import weights      # FILES, make_test_checkpoints(root), paths
    from core.liveportrait.crop import FaceCropper, CropInfo, resize_to_limit
    from core.liveportrait.pasteback import PasteBack

    photo = resize_to_limit(load_image(path))                    # reference: longest side <= 1920, even dims
    crop = FaceCropper.cached(root).crop_source(photo)           # or box=(x1, y1, x2, y2) / face_index=k
    r = LivePortraitRenderer.cached(root, device, dtype)         # strict load; dtype fp16/bf16 = autocast
    src = r.extract_source(image_to_tensor(crop.img_crop_256, r.device))
    # src.f_s (1,32,16,64,64); src.pitch/yaw/roll (1,) degrees; src.t (1,3); src.exp (1,21,3); src.scale (1,1);
    # src.kp (1,21,3) canonical; src.rotation (1,3,3); src.x_s (1,21,3); src.motion_vector() -> (1,70) MoDA layout
    x_d = r.compose_keypoints(src, exp, pitch, yaw, roll, t)     # (B,21,3) = s_src * (kp @ R + exp) + [tx, ty, 0]
    x_d = r.stitch(src.x_s, x_d)                                 # stitching MLP (MoDA: on)
    frames = r.render(src, x_d, batch_size=25)                   # (B,3,512,512) in [0,1], on r.device
    paste = PasteBack(photo, crop)              # once per photo
    video_frames = paste(frames)                                 # (B,H,W,3) uint8 on r.device

Also: `rotation_matrix(pitch, yaw, roll)`, `bins_to_degrees(logits)`, `transform_keypoints(kp, R, exp, scale, t)`
(camera.py); `r.keypoint_info(imgs)` (batched M + pose degrees); `r.retarget_lip(x_s, [[src_ratio, target]])`,
`r.retarget_eye(x_s, [[left, right, target]])` -> (B,21,3) offsets to add to x_d before stitching;
`r.warp_decode(f_s, x_s, x_d)` (one batch). Ratios: `crop.landmarks.eye_close_ratios / lip_close_ratio` on
`CropInfo.landmarks_203`. Test weights: folders marked by TEST_WEIGHTS.txt load the tiny config automatically.
Face edits: `core.liveportrait.expression` (`edit_deltas({"smile": 0.6, "yaw": 10})` -> exp (B,21,3) and pose (B,3)
offsets with the reference sliders' amounts; `transfer_delta`, `neutralize`, `retarget_offsets`).
"""
from .camera import bins_to_degrees, rotation_matrix, transform_keypoints
from .config import LivePortraitConfig, tiny_config
from .wrapper import LivePortraitRenderer, SourceState, image_to_tensor

__all__ = [
           "LivePortraitConfig",
           "LivePortraitRenderer",
           "SourceState",
           "bins_to_degrees",
           "image_to_tensor",
           "rotation_matrix",
           "tiny_config",
           "transform_keypoints",
]
