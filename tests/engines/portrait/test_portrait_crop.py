"""Face crop geometry, the SCRFD / landmark ONNX code paths (tiny pinned models) and feathered paste-back."""
import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from core.liveportrait.crop import FaceCropper
from core.liveportrait.crop import testmodels as tm
from core.liveportrait.crop.detector import SCRFD, anchor_centers, distance_to_boxes, distance_to_kps, nms
from core.liveportrait.crop.geometry import (
    crop_matrix_from_box,
    crop_matrix_from_landmarks,
    rect_from_landmarks,
    transform_points,
)
from core.liveportrait.crop.landmarks import Landmark106, Landmark203
from core.liveportrait import weights as lpw
from core.liveportrait.pasteback import PasteBack, mask_template
from core.errors import BadInputError


def upright_face_106(center=(200.0, 200.0), angle_deg=0.0) -> np.ndarray:
    """106 points spanning a 200 px square, eyes at y-50, lips at y+50, rotated by angle about the centre."""
    rng = np.random.default_rng(3)
    pts = rng.uniform(-90, 90, (106, 2))
    pts[0], pts[1] = (-100, -100), (100, 100)
    pts[[33, 35, 40, 39]] = (-50, -50)
    pts[[87, 89, 94, 93]] = (50, -50)
    pts[[52, 61]] = (0, 50)
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return pts @ rot.T + np.asarray(center)


@pytest.fixture(scope="module")
def crop_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("crop")
    lpw.make_test_checkpoints(root)
    return root


# ---------------------------------------------------------------------------------------------- geometry
def test_landmark_rect_is_hand_computable_for_an_upright_face():
    center, side, angle = rect_from_landmarks(upright_face_106(), scale=2.3, vy_ratio=-0.125)
    assert angle == pytest.approx(0.0, abs=1e-9)
    assert side == pytest.approx(460.0)
    assert center == pytest.approx([200.0, 200.0 - 0.125 * 460.0])
    M = crop_matrix_from_landmarks(upright_face_106())
    s = 512 / 460
    assert M == pytest.approx(np.array([[s, 0, 256 - s * 200], [0, s, 256 - s * 142.5], [0, 0, 1]]))


def test_rotated_face_gives_a_rotation_aware_crop():
    upright, tilted = upright_face_106(), upright_face_106(angle_deg=30.0)
    m0, m30 = crop_matrix_from_landmarks(upright), crop_matrix_from_landmarks(tilted)
    # The same facial points land at the same crop positions: the crop undoes the 30 degree tilt.
    assert transform_points(tilted, m30) == pytest.approx(transform_points(upright, m0), abs=1e-6)
    assert math.degrees(math.atan2(m30[0, 1], m30[0, 0])) == pytest.approx(30.0)
    unrotated = crop_matrix_from_landmarks(tilted, rotate=False)
    assert unrotated[0, 1] == 0 and unrotated[1, 0] == 0


def test_crop_transform_round_trips_points_within_half_a_pixel():
    M = crop_matrix_from_landmarks(upright_face_106(center=(640.3, 410.7), angle_deg=-17.0))
    pts = np.random.default_rng(0).uniform(0, 1280, (50, 2))
    back = transform_points(transform_points(pts, M), np.linalg.inv(M))
    assert np.abs(back - pts).max() < 0.5
    assert np.abs(back - pts).max() < 1e-6


def test_box_maps_to_an_upright_square_of_scale_2_3_moved_up():
    M = crop_matrix_from_box((100, 120, 200, 200))  # longer side 100 -> crop side 230, centre up by 28.75
    s = 512 / 230
    assert transform_points(np.array([[150.0, 160.0 - 28.75]]), M)[0] == pytest.approx([256.0, 256.0])
    assert M[0, 0] == pytest.approx(s) and M[0, 1] == 0
    with pytest.raises(BadInputError):
        crop_matrix_from_box((200, 100, 100, 200))


# --------------------------------------------------------------------------------------------- detector
def test_scrfd_decoding_helpers():
    centers = anchor_centers(2, 3, 8, 2)
    assert centers.tolist() == [[0, 0], [0, 0], [8, 0], [8, 0], [16, 0], [16, 0],
                                [0, 8], [0, 8], [8, 8], [8, 8], [16, 8], [16, 8]]
    pts = np.array([[10.0, 20.0]])
    assert distance_to_boxes(pts, np.array([[1.0, 2.0, 3.0, 4.0]])).tolist() == [[9, 18, 13, 24]]
    assert distance_to_kps(pts, np.arange(10.0)[None]).tolist() == [[[10, 21], [12, 23], [14, 25], [16, 27],
                                                                      [18, 29]]]
    boxes = np.array([[0, 0, 9, 9], [1, 1, 10, 10], [20, 20, 29, 29]], dtype=np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.4) == [0, 2]  # IoU(0, 1) = 81 / 119 > 0.4


def pinned_scrfd(path):
    """Only stride 32 fires, where the pooled normalised pixels are bright; boxes are anchor +- 32 px."""
    params = {}
    for s in tm.SCRFD_STRIDES:
        params[f"score{s}_w"] = np.full((2, 3, 1, 1), 10.0 if s == 32 else 0.0)
        params[f"score{s}_b"] = np.full((2,), -10.0 if s == 32 else -20.0)
        params[f"bbox{s}_w"] = np.zeros((8, 3, 1, 1))
        params[f"bbox{s}_b"] = np.ones(8)
        params[f"kps{s}_w"] = np.zeros((20, 3, 1, 1))
        params[f"kps{s}_b"] = np.tile(np.array([-0.5, -0.5, 0.5, -0.5, 0, 0, -0.25, 0.5, 0.25, 0.5]), 2)
    tm.save(tm.scrfd_model(np.random.default_rng(0), params), path)


def test_scrfd_onnx_path_finds_the_bright_cell(tmp_path):
    pinned_scrfd(tmp_path / "det.onnx")
    det = SCRFD(tmp_path / "det.onnx", providers=["CPUExecutionProvider"])
    assert det.output_names == list(tm.SCRFD_OUTPUTS) and det.input_name == "input.1"
    img = np.zeros((1024, 1024, 3), np.uint8)
    img[320:384, 448:512] = 255  # -> det image (scale 0.5) cell (y=5, x=7) of stride 32: anchor (224, 160)
    faces = det(img)
    assert len(faces) == 1  # two identical anchors, merged by NMS
    assert faces.boxes[0] == pytest.approx([(224 - 32) * 2, (160 - 32) * 2, (224 + 32) * 2, (160 + 32) * 2])
    assert faces.scores[0] > 0.99
    assert faces.kps[0][0] == pytest.approx([(224 - 16) * 2, (160 - 16) * 2])
    assert faces.kps[0][4] == pytest.approx([(224 + 8) * 2, (160 + 16) * 2])
    # Non-square photo: letterboxed top-left, coordinates scale back by the same factor.
    wide = np.zeros((512, 1024, 3), np.uint8)
    wide[128:192, 448:512] = 255  # det scale 0.5 (512x256 in the 512 square) -> cell (y=2, x=7): anchor (224, 64)
    assert det(wide).boxes[0] == pytest.approx([384, 64, 512, 192])


def test_landmark106_maps_outputs_back_through_the_box_crop(tmp_path):
    bias = np.tile([0.5, -0.25], 106)  # every point at (0.5, -0.25) in [-1, 1] crop units
    tm.save(tm.landmark106_model(np.random.default_rng(0), {"fc1_w": np.zeros((212, 48)), "fc1_b": bias}),
            tmp_path / "l106.onnx")
    lmk = Landmark106(tmp_path / "l106.onnx", providers=["CPUExecutionProvider"])
    assert (lmk.input_name, lmk.output_name, lmk.size) == ("data", "fc1", 192)
    pts = lmk(np.zeros((400, 400, 3), np.uint8), (100, 50, 300, 250))
    # crop: side 300 around (200, 150), 192 px -> scale 0.64; crop point (1.5 * 96, 0.75 * 96) = (144, 72)
    assert pts.shape == (106, 2)
    assert pts[0] == pytest.approx([200 + 48 / 0.64, 150 - 24 / 0.64], abs=1e-3)


def test_landmark203_maps_outputs_back_through_its_224_crop(tmp_path):
    heads = {f"{n}_w": np.zeros((w, 48)) for n, w in (("output", 214), ("853", 262), ("856", 406))}
    heads["856_b"] = np.tile([0.25, 0.5], 203)
    tm.save(tm.landmark203_model(np.random.default_rng(0), heads), tmp_path / "l203.onnx")
    lmk = Landmark203(tmp_path / "l203.onnx", providers=["CPUExecutionProvider"])
    pts = lmk(np.zeros((400, 400, 3), np.uint8), upright_face_106())
    # 224 crop of the upright face: side 300, centre (200, 200 - 30); crop (56, 112) -> (125, 170)
    assert pts.shape == (203, 2)
    assert pts[7] == pytest.approx([200 + (56 - 112) * 300 / 224, 170.0], abs=1e-3)


# ----------------------------------------------------------------------------------------------- cropper
def test_crop_source_with_a_box_on_test_weights(crop_root):
    cropper = FaceCropper(crop_root, providers=["CPUExecutionProvider"])
    img = np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    img[150, 200] = (255, 0, 0)
    info = cropper.crop_source(img, box=(150, 90, 250, 210))
    assert info.img_crop_512.shape == (512, 512, 3) and info.img_crop_256.shape == (256, 256, 3)
    assert info.landmarks_106.shape == (106, 2) and info.landmarks_203.shape == (203, 2)
    assert np.array_equal(info.img_crop_256, cv2.resize(info.img_crop_512, (256, 256), interpolation=cv2.INTER_AREA))
    assert info.M_c2o @ info.M_o2c == pytest.approx(np.eye(3))
    # a marked photo pixel appears where the transform says (sampling exactly at a pixel needs an integer hit)
    u, v = info.to_crop(np.array([[200.0, 150.0]]))[0]
    assert info.to_original(np.array([[u, v]]))[0] == pytest.approx([200, 150])
    row, col = round(v), round(u)
    assert info.img_crop_512[row, col, 0] > info.img_crop_512[row, col, 1]
    with pytest.raises(BadInputError, match="box"):
        cropper.crop_source(img, box=(350, 90, 450, 210))


def test_crop_source_reports_no_face_and_bad_face_index(crop_root, tmp_path):
    cropper = FaceCropper(crop_root, providers=["CPUExecutionProvider"])
    img = np.zeros((256, 256, 3), np.uint8)
    with pytest.raises(BadInputError, match="no face"):
        cropper.crop_source(img)  # random test detector scores stay below the threshold
    pinned_scrfd(tmp_path / "det.onnx")
    cropper.detector = SCRFD(tmp_path / "det.onnx", providers=["CPUExecutionProvider"])
    img = np.zeros((512, 512, 3), np.uint8)
    img[160:192, 224:256] = 255
    info = cropper.crop_source(img)
    assert info.box == pytest.approx([192, 128, 256, 192])
    with pytest.raises(BadInputError, match="1 face"):
        cropper.crop_source(img, face=1)
    with pytest.raises(BadInputError):
        cropper.crop_source(np.zeros((8, 8, 3), np.uint8))


# -------------------------------------------------------------------------------------------- paste-back
def test_mask_template_reproduces_reference_values():
    m = mask_template()
    assert m.shape == (512, 512) and m.dtype == np.uint8
    assert m[256, :17].tolist() == [int(255 * i / 16) for i in range(17)]  # 0, 15, 31, ... 239, 255
    assert m[256, 511] == 15 and m[256, 496] == 255 and m[511, 256] == 15
    assert [int(m[i, i]) for i in (4, 5, 6, 15, 16)] == [0, 7, 29, 232, 255]  # rounded corner
    assert m[10, 2] == 12 and m[10, 100] == 159


def test_pasteback_is_exact_outside_the_mask_and_inside_its_core():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (700, 900, 3), dtype=np.uint8)
    shift = np.array([[1.0, 0, 100], [0, 1, 150], [0, 0, 1]])  # crop pixel (u, v) -> photo (u + 100, v + 150)
    paste = PasteBack(photo, SimpleNamespace(M_c2o=shift))
    levels = torch.from_numpy(rng.integers(0, 256, (2, 3, 512, 512))).float()
    out = paste(levels / 255.0)
    assert out.shape == (2, 700, 900, 3) and out.dtype == torch.uint8
    out = out.numpy()
    mask = cv2.warpAffine(mask_template(), shift[:2], (900, 700))
    outside = mask == 0
    assert np.array_equal(out[0][outside], photo[outside]) and np.array_equal(out[1][outside], photo[outside])
    core = levels.permute(0, 2, 3, 1).numpy().astype(np.uint8)[:, 16:496, 16:496]
    assert np.array_equal(out[:, 166:646, 116:596], core)
    # halfway up the 16-px ramp (crop u = 8: mask 127/255) the photo and the frame mix linearly, truncated to
    # uint8 as the reference's paste_back does (issue 12; this was rounding, within 0.5)
    m = 127 / 255
    frame_px = levels[0, :, 250, 8].numpy()
    expected = photo[400, 108] * (1 - m) + frame_px * m
    assert np.all((expected - out[0, 400, 108] >= -1e-3) & (expected - out[0, 400, 108] < 1))


def test_pasteback_matches_a_cv2_reference_for_a_rotated_scaled_crop():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)
    m_o2c = crop_matrix_from_landmarks(upright_face_106(center=(420.0, 300.0), angle_deg=20.0), scale=1.2)
    m_c2o = np.linalg.inv(m_o2c)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), (9, 9), 3)
    out = PasteBack(photo, SimpleNamespace(M_c2o=m_c2o))(torch.from_numpy(frame).permute(2, 0, 1)[None])[0].numpy()
    # reference formula: warp mask and frame with M_c2o, blend, truncate (LivePortrait's crop.paste_back)
    mask = cv2.warpAffine(mask_template(), m_c2o[:2], (800, 600)).astype(np.float32)[..., None] / 255
    warped = cv2.warpAffine(frame, m_c2o[:2], (800, 600)).astype(np.float32)
    ref = np.clip(mask * warped + (1 - mask) * photo, 0, 255)
    assert np.abs(out.astype(np.float32) - ref).mean() < 0.6
    outside = mask[..., 0] == 0
    diff = out[outside].astype(np.float64) - photo[outside]
    assert outside.sum() > 100000 and np.all(diff == 0)  # PSNR infinite (> 45 dB) outside the mask
