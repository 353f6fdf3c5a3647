"""fp8 weight storage for the DiT: Linear weights kept as ``float8_e4m3fn``, upcast per layer for each forward.

As the reference's ``model_cpu_offload_and_qfloat8`` mode: plain storage, no scaling, so values keep e4m3's
3-bit mantissa (about 2 significant digits) and its ±448 range (DiT weights are far inside it). Modulation
tables, norms, embedders and convolutions stay in the compute precision (the reference keeps every
``modulation`` out of fp8; we also keep the embedders and non-Linear parameters, about 5 % of the weights). State-dict
names
are unchanged, so the strict key maps still apply.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FP8 = torch.float8_e4m3fn


class Fp8Linear(nn.Module):
    """A Linear whose weight is stored in fp8 and cast to the input's dtype on use."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = nn.Parameter(linear.weight.detach().to(FP8), requires_grad=False)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight.to(x.dtype), bias)


def to_fp8_storage(model: nn.Module, within: tuple[str, ...] = ("blocks.", "vocal_projector."),
                   skip: tuple[str, ...] = ()) -> nn.Module:
    """Replace (in place) every ``nn.Linear`` under the named submodules by an ``Fp8Linear``, except names ending
    in ``skip``. The default covers the DiT's transformer blocks and audio adapter, 98 % of StableAvatar's
    weights; the embedders stay as they are (diffusers casts the timestep to the time embedder's dtype, which
    cannot be fp8)."""
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            qualified = f"{parent_name}.{name}"
            if isinstance(child, nn.Linear) and qualified.startswith(within) and not qualified.endswith(skip):
                setattr(parent, name, Fp8Linear(child))
    return model
