"""Building blocks shared by the LivePortrait networks.

Attribute names mirror the official implementation so that the official checkpoints load with strict=True.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` (same parameters and keys) that computes fp16 inputs on the CPU in fp32 and returns fp16.

    PyTorch has no fast fp16 3-D convolution on the CPU: a 7x7x7 one that takes 0.1 s in fp32 or bf16 takes
    56 s in fp16 (measured on this project's CI CPU). On CUDA, and for every other dtype, it is plain Conv3d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.dtype == torch.float16 or (torch.is_autocast_enabled("cpu")
                                            and torch.get_autocast_dtype("cpu") == torch.float16)
        if x.device.type != "cpu" or not half:
            return super().forward(x)
        with torch.autocast("cpu", enabled=False):
            bias = None if self.bias is None else self.bias.float()
            return self._conv_forward(x.float(), self.weight.float(), bias).half()


def coordinate_grid(d: int, h: int, w: int, ref: torch.Tensor) -> torch.Tensor:
    """(d, h, w, 3) grid of (x, y, z) in [-1, 1], x to the right, y down, z inwards (grid_sample order)."""
    def axis(n: int) -> torch.Tensor:
        return 2 * (torch.arange(n, device=ref.device, dtype=ref.dtype) / (n - 1)) - 1

    z, y, x = torch.meshgrid(axis(d), axis(h), axis(w), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def keypoint_gaussians(kp: torch.Tensor, d: int, h: int, w: int, variance: float = 0.01) -> torch.Tensor:
    """(B, K, 3) keypoints -> (B, K, d, h, w) unnormalised Gaussians on the coordinate grid."""
    grid = coordinate_grid(d, h, w, kp)
    diff = grid[None, None] - kp[:, :, None, None, None, :]
    return torch.exp(-0.5 * diff.pow(2).sum(-1) / variance)


class SameBlock2d(nn.Module):
    """conv -> BN -> (leaky)ReLU at constant resolution."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1, lrelu: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.ac = nn.LeakyReLU() if lrelu else nn.ReLU()

    def forward(self, x):
        return self.ac(self.norm(self.conv(x)))


class DownBlock2d(nn.Module):
    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.pool = nn.AvgPool2d(kernel_size=(2, 2))

    def forward(self, x):
        return self.pool(F.relu(self.norm(self.conv(x))))


class ResBlock3d(nn.Module):
    """Pre-activation residual block (BN-ReLU-conv x2) on a feature volume."""

    def __init__(self, in_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv1 = Conv3d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.conv2 = Conv3d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.norm1 = nn.BatchNorm3d(in_features, affine=True)
        self.norm2 = nn.BatchNorm3d(in_features, affine=True)

    def forward(self, x):
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class DownBlock3d(nn.Module):
    """conv -> BN -> ReLU -> pool over H and W only (depth is kept)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x):
        return self.pool(F.relu(self.norm(self.conv(x))))


class UpBlock3d(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=(1, 2, 2))
        return F.relu(self.norm(self.conv(x)))


class Encoder(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock3d(in_features if i == 0 else min(max_features, block_expansion * 2 ** i),
                        min(max_features, block_expansion * 2 ** (i + 1)))
            for i in range(num_blocks)
        )

    def forward(self, x):
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        ups = []
        for i in reversed(range(num_blocks)):
            in_filters = (1 if i == num_blocks - 1 else 2) * min(max_features, block_expansion * 2 ** (i + 1))
            ups.append(UpBlock3d(in_filters, min(max_features, block_expansion * 2 ** i)))
        self.up_blocks = nn.ModuleList(ups)
        self.out_filters = block_expansion + in_features
        self.conv = Conv3d(self.out_filters, self.out_filters, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(self.out_filters, affine=True)

    def forward(self, skips: list[torch.Tensor]):
        out = skips[-1]
        for block, skip in zip(self.up_blocks, reversed(skips[:-1])):
            out = torch.cat([block(out), skip], dim=1)
        return F.relu(self.norm(self.conv(out)))


class Hourglass(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x):
        return self.decoder(self.encoder(x))


class SpectralNormConv2d(nn.Module):
    """Conv2d whose weight is weight_orig / sigma, sigma = u . (W v) from the stored vectors (inference form).

    Stores `weight_orig`, `weight_u`, `weight_v` (and `bias`) exactly as torch's classic spectral_norm hook does,
    so checkpoints trained with that hook load strictly; no power iteration runs here (eval-only module).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, padding: int = 0, bias: bool = True):
        super().__init__()
        self.padding = padding
        self.weight_orig = nn.Parameter(torch.empty(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        nn.init.kaiming_uniform_(self.weight_orig, a=5 ** 0.5)
        u = F.normalize(torch.randn(out_ch), dim=0, eps=1e-12)
        v = F.normalize(torch.randn(in_ch * kernel_size * kernel_size), dim=0, eps=1e-12)
        self.register_buffer("weight_u", u)
        self.register_buffer("weight_v", v)

    def weight(self) -> torch.Tensor:
        with torch.autocast(self.weight_orig.device.type, enabled=False):  # sigma in fp32 even under autocast
            w = self.weight_orig.float()
            sigma = torch.dot(self.weight_u.float(), w.flatten(1) @ self.weight_v.float())
            return (w / sigma).to(self.weight_orig.dtype)

    def forward(self, x):
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


class SPADE(nn.Module):
    """Parameter-free instance norm, modulated by gamma/beta predicted from the segmentation map."""

    def __init__(self, norm_nc: int, label_nc: int, hidden: int = 128):
        super().__init__()
        self.param_free_norm = nn.InstanceNorm2d(norm_nc, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, kernel_size=3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)

    def forward(self, x, segmap):
        normalized = self.param_free_norm(x)
        segmap = F.interpolate(segmap, size=x.shape[2:], mode="nearest")
        actv = self.mlp_shared(segmap)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResnetBlock(nn.Module):
    def __init__(self, fin: int, fout: int, label_nc: int, hidden: int = 128):
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.conv_0 = SpectralNormConv2d(fin, fmiddle, kernel_size=3, padding=1)
        self.conv_1 = SpectralNormConv2d(fmiddle, fout, kernel_size=3, padding=1)
        if self.learned_shortcut:
            self.conv_s = SpectralNormConv2d(fin, fout, kernel_size=1, bias=False)
        self.norm_0 = SPADE(fin, label_nc, hidden)
        self.norm_1 = SPADE(fmiddle, label_nc, hidden)
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, label_nc, hidden)

    def forward(self, x, seg):
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return x_s + dx


class LayerNorm(nn.Module):
    """LayerNorm over the channel axis of NCHW tensors (channels_first) or the last axis (channels_last)."""

    def __init__(self, normalized_shape: int, eps: float = 1e-6, channels_first: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.channels_first = channels_first

    def forward(self, x):
        if not self.channels_first:
            return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt-V2), channels-last input."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x
