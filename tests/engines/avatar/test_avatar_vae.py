"""Wan VAE: the streaming decode gives the one-shot decode's frames; the conditioning encode is causal."""
import pytest
import torch

from core.wan import vae

pytest_plugins = ["tests.avatar_support"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny():
    torch.manual_seed(0)
    model = vae.build(vae.TINY).eval()
    for p in model.parameters():                       # diffusers' init leaves norms at 1: perturb everything
        p.data.add_(0.05 * torch.randn_like(p))
    return model


def test_streaming_decode_equals_one_shot_decode():
    model = _tiny()
    torch.manual_seed(1)
    latents = torch.randn(1, 16, 3, 4, 4)
    chunks = list(vae.decode_stream(model, latents, torch.device("cpu")))
    assert [c.shape[0] for c in chunks] == [1, 4, 4]
    assert all(c.dtype == torch.uint8 and c.shape[1:] == (32, 32, 3) for c in chunks)
    mean, std = vae._stats(model, latents)
    with torch.no_grad():
        video = model.decode(latents * std + mean).sample
    want = ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 3, 0)
    got = torch.cat(chunks)
    assert got.shape == want.shape == (9, 32, 32, 3)
    assert (got.int() - want.int()).abs().max() <= 1                    # fp32 reassociation at most
    assert (got != want).float().mean() < 0.01
    assert got.float().std() > 1                                        # not a constant image


def test_condition_latents_are_normalised_and_causal():
    model = _tiny()
    frame = torch.rand(3, 32, 32) * 2 - 1
    two = vae.encode_condition(model, frame, 2, torch.device("cpu"))
    three = vae.encode_condition(model, frame, 3, torch.device("cpu"))
    assert two.shape == (1, 16, 2, 4, 4) and three.shape == (1, 16, 3, 4, 4)
    torch.testing.assert_close(three[:, :, :2], two, atol=1e-5, rtol=1e-5)   # a window's slice = shorter encode
    mean, std = vae._stats(model, two)
    with torch.no_grad():
        video = torch.zeros(1, 3, 5, 32, 32)
        video[:, :, 0] = frame
        raw = model.encode(video).latent_dist.mode()
    torch.testing.assert_close(two, (raw - mean) / std)
