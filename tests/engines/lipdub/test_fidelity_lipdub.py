"""Issue 12: the lip-dub engine's arithmetic against the MuseTalk reference's (derivations in tests/golden/)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from core.engines.lipdub import pipeline as E
from core.engines.lipdub import models as M
from core.engines.lipdub.prepare import vae_inputs
from tests.golden import lipdub_vae


def test_vae_inputs_are_contiguous_nchw_and_encode_like_float64():
    crop = lipdub_vae.masked_crop_nhwc()
    assert not crop.is_contiguous()  # the old path: channels-last strides reached vae.encode on the CPU
    x = vae_inputs(np.zeros((2, 64, 64, 3), np.uint8), [(0, 0, 64, 64)] * 2)
    assert x.is_contiguous()
    passed, contiguous = lipdub_vae.encode_errors(lipdub_vae.random_vae(), crop)
    assert contiguous < 1e-5 and passed > 1e-4  # 1.5e-6 against 2.9e-4 (tests/golden/lipdub_vae.py)


def test_decode_multiplies_by_the_inverse_scale_like_the_reference():
    seen = []

    class Spy:
        def decode(self, z):
            seen.append(z.clone())
            return SimpleNamespace(sample=torch.zeros(z.shape[0], 3, 256, 256))

    pred = torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    def unet(lat, t, encoder_hidden_states):
        return SimpleNamespace(sample=pred)
    ctx = SimpleNamespace(stage=lambda name: torch.autograd.profiler.record_function(name))
    E.dub_faces(torch.zeros(2, 8, 32, 32), torch.zeros(2, 50, 384), unet, Spy(), ctx)
    assert torch.equal(seen[0], pred * (1 / M.VAE_SCALE))
    assert not torch.equal(seen[0], pred / M.VAE_SCALE)


def test_parser_sees_the_reference_pil_resized_input():
    from core.engines.lipdub.face.parsing import parse
    from tests.golden import lipdub_parse

    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            seen.append(x.clone())
            return torch.zeros(x.shape[0], 19, 512, 512)

    crop = lipdub_parse.face_crop()
    assert parse(Spy(), [crop]).shape == (1, 512, 512)
    assert torch.equal(seen[0], lipdub_parse.reference_input(crop))
    # the float resize it replaces moves ~15 % of the input's grey levels by up to one
    assert (lipdub_parse.old_input(crop) - seen[0]).abs().amax() > 0.5 / 255 / 0.229


def test_cpu_blend_is_the_reference_get_image_exactly_and_the_gpu_blend_within_one_level():
    from core.engines.lipdub import blend as B
    from tests.golden import lipdub_blend as G

    frame, face, mask = G.inputs()
    packed = B.pack_mask(mask)
    for box in G.BOXES:
        ref = G.reference_blend(frame, face, box, mask)
        faces = torch.from_numpy(face).permute(2, 0, 1)[None].float()
        cached = E.blend_batch(frame[None].copy(), [0], faces, [B.frame_alpha(mask, box)], [box], "cpu")[0]
        preview = E.blend_batch(frame[None].copy(), [0], faces, [packed], [box], "cpu")[0]
        assert np.array_equal(cached, ref) and np.array_equal(preview, ref)
        assert G.max_diff(G.engine_float(frame, face, box, mask), ref)[0] <= 1


def test_alpha_store_returns_each_frames_box_shaped_weights():
    from core.engines.lipdub.prepare import AlphaStore, alpha_offsets

    boxes = np.array([[0, 0, 4, 2], [0, 0, 9, 9], [1, 1, 4, 5]])
    valid = np.array([True, False, True])
    offsets = alpha_offsets(boxes, valid)
    assert offsets.tolist() == [0, 8, 8, 20]
    store = AlphaStore(np.arange(20, dtype=np.uint8), boxes, valid)
    a, c = store[np.array([0, 2])]
    assert a.shape == (2, 4) and c.shape == (4, 3) and c[0, 0] == 8 and c[-1, -1] == 19
