"""MoDA's motion DiT ("TalkingHeadDiT-B"): 3 four-stream, 6 double-stream and 12 single-stream blocks.

Parameter names follow the official ``net-200.pth`` (under ``talking_head_dit.``) so the checkpoint loads strictly.
Streams: motion (80 tokens), audio (80), emotion and identity (one vector each, repeated per frame). adaLN
modulation from c = timestep embedding + emotion embedding; RMSNorm everywhere; interleaved RoPE (theta 256)
on the motion/audio tokens, position = frame index; joint attention through ``scaled_dot_product_attention``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

NUM_EMOTIONS = 8  # row 8 of the emotion table is the null (CFG / "none") class
ROPE_THETA = 256.0


@dataclass(frozen=True)
class DiTConfig:
    motion_dim: int = 70          # one frame of motion; the model sees [prev_motion, x_t] = 140
    id_dim: int = 63              # canonical source keypoints (21 x 3)
    audio_in: int = 12 * 768      # one frame of HuBERT features: 12 layers x 768
    hidden: int = 768
    heads: int = 12
    mlp_ratio: float = 4.0
    freq_dim: int = 256           # sinusoidal timestep embedding size
    n_four: int = 3
    n_double: int = 6
    n_single: int = 12

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def mlp_hidden(self) -> int:
        return int(self.hidden * self.mlp_ratio)

    @classmethod
    def from_state_dict(cls, sd: dict[str, torch.Tensor], prefix: str = "") -> DiTConfig:
        """Read every size from the weights themselves (the official file carries no config)."""
        def count(name: str) -> int:
            ids = {int(k[len(prefix + name) + 1:].split(".")[0]) for k in sd if k.startswith(prefix + name + ".")}
            return max(ids) + 1 if ids else 0

        hidden, motion_in = sd[prefix + "motion_embedder.mlp.0.weight"].shape
        head_dim = sd[prefix + "blocks.0.attn1.xs_q_norm.weight"].shape[0]
        return cls(
            motion_dim=motion_in // 2,
            id_dim=sd[prefix + "identity_embedder.mlp.0.weight"].shape[1],
            audio_in=sd[prefix + "audio_embedder.proj1.weight"].shape[1],
            hidden=hidden,
            heads=hidden // head_dim,
            mlp_ratio=sd[prefix + "blocks2.0.xs_mlp.fc1.weight"].shape[0] / hidden,
            freq_dim=sd[prefix + "time_embedder.mlp.0.weight"].shape[1],
            n_four=count("blocks4"),
            n_double=count("blocks2"),
            n_single=count("blocks"),
        )


# ----------------------------------------------------------------------------------------------------------------
# small pieces


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) [* weight], computed in the input dtype like the reference."""

    def __init__(self, dim: int, eps: float = 1e-6, affine: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * self.weight if self.weight is not None else x


def _prenorm(x: torch.Tensor) -> torch.Tensor:
    """The blocks' pre-norms: RMSNorm without weights, eps 1e-6."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class TwoLayerMlp(nn.Module):
    """Linear -> SiLU -> Linear under ``mlp.0`` / ``mlp.2`` (motion, identity and timestep embedders)."""

    def __init__(self, dim_in: int, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


def adaln(hidden: int, n: int) -> nn.Sequential:
    return nn.Sequential(nn.SiLU(), nn.Linear(hidden, n * hidden))


def rope_tables(n_frames: int, head_dim: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of shape (n_frames, head_dim), each frequency repeated for its channel pair (2i, 2i+1)."""
    freqs = 1.0 / (ROPE_THETA ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    angles = torch.outer(torch.arange(n_frames).float(), freqs)
    return (angles.cos().repeat_interleave(2, dim=1).to(device), angles.sin().repeat_interleave(2, dim=1).to(device))


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (B, N, H, D) with N a multiple of the table length (positions repeat per stream); fp32 math."""
    reps = x.shape[1] // cos.shape[0]
    cos, sin = cos.repeat(reps, 1)[None, :, None], sin.repeat(reps, 1)[None, :, None]
    xf = x.float()
    pairs = xf.reshape(*xf.shape[:-1], -1, 2)
    rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).flatten(-2)
    return (xf * cos + rotated * sin).type_as(x)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoid in [cos, sin] order, fed the raw timestep (1..1000)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return emb.to(t.dtype) if torch.is_floating_point(t) else emb


class AudioEmbedder(nn.Module):
    """Per frame: flatten (1 x 12 x 768) -> 3 Linear (ReLU between) -> RMSNorm -> one token."""

    def __init__(self, audio_in: int, hidden: int):
        super().__init__()
        self.proj1 = nn.Linear(audio_in, hidden)
        self.proj2 = nn.Linear(hidden, hidden)
        self.proj3 = nn.Linear(hidden, hidden)
        self.norm = RMSNorm(hidden, eps=1e-6)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = audio.reshape(audio.shape[0], audio.shape[1], -1)
        x = torch.relu(self.proj2(torch.relu(self.proj1(x))))
        return self.norm(self.proj3(x))


class LabelEmbedder(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.embedding_table = nn.Embedding(NUM_EMOTIONS + 1, hidden)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.embedding_table(labels)


# ----------------------------------------------------------------------------------------------------------------
# attention over several token streams, each with its own weights


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    return x.view(x.shape[0], x.shape[1], heads, -1)


def _joint_attention(qs: list[torch.Tensor], ks: list[torch.Tensor], vs: list[torch.Tensor]) -> torch.Tensor:
    """One SDPA over the concatenated streams; inputs (B, N_i, H, D); output (B, sum N_i, H*D)."""
    q = torch.cat(qs, 1).transpose(1, 2)
    k = torch.cat(ks, 1).transpose(1, 2)
    v = torch.cat(vs, 1).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).flatten(2)


class FourStreamAttention(nn.Module):
    """Motion (xs) and audio/emotion/identity (au1/au2/au3) streams; RoPE on motion and audio only."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        h, d = cfg.hidden, cfg.head_dim
        self.heads = cfg.heads
        self.qkv_xs = nn.Linear(h, 3 * h)
        self.xs_q_norm, self.xs_k_norm = RMSNorm(d, 1e-5), RMSNorm(d, 1e-5)
        self.xs_proj = nn.Linear(h, h)
        for i in (1, 2, 3):
            setattr(self, f"qkv_au{i}", nn.Linear(h, 3 * h))
            setattr(self, f"au_q_norm{i}", RMSNorm(d, 1e-5))
            setattr(self, f"au_k_norm{i}", RMSNorm(d, 1e-5))
            setattr(self, f"au_proj{i}", nn.Linear(h, h))

    def forward(self, streams: list[torch.Tensor], cos: torch.Tensor, sin: torch.Tensor) -> list[torch.Tensor]:
        names = [("qkv_xs", "xs_q_norm", "xs_k_norm", True)] + [
            (f"qkv_au{i}", f"au_q_norm{i}", f"au_k_norm{i}", i == 1) for i in (1, 2, 3)]
        qs, ks, vs = [], [], []
        for x, (qkv, qn, kn, rope) in zip(streams, names):
            q, k, v = getattr(self, qkv)(x).chunk(3, dim=-1)
            q, k = getattr(self, qn)(_heads(q, self.heads)), getattr(self, kn)(_heads(k, self.heads))
            if rope:
                q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            qs.append(q), ks.append(k), vs.append(_heads(v, self.heads))
        out = _joint_attention(qs, ks, vs).split([x.shape[1] for x in streams], dim=1)
        projs = [self.xs_proj, self.au_proj1, self.au_proj2, self.au_proj3]
        return [proj(o) for proj, o in zip(projs, out)]


class DoubleStreamAttention(nn.Module):
    """Motion vs. the concatenated [audio; emotion; identity] stream; RoPE on both (frame positions tiled)."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        h, d = cfg.hidden, cfg.head_dim
        self.heads = cfg.heads
        self.qkv_xs, self.qkv_au = nn.Linear(h, 3 * h), nn.Linear(h, 3 * h)
        self.xs_q_norm, self.xs_k_norm = RMSNorm(d, 1e-5), RMSNorm(d, 1e-5)
        self.au_q_norm, self.au_k_norm = RMSNorm(d, 1e-5), RMSNorm(d, 1e-5)
        self.xs_proj, self.au_proj = nn.Linear(h, h), nn.Linear(h, h)

    def forward(self, x: torch.Tensor, y: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        qs, ks, vs = [], [], []
        for t, qkv, qn, kn in ((x, self.qkv_xs, self.xs_q_norm, self.xs_k_norm),
                               (y, self.qkv_au, self.au_q_norm, self.au_k_norm)):
            q, k, v = qkv(t).chunk(3, dim=-1)
            q, k = qn(_heads(q, self.heads)), kn(_heads(k, self.heads))
            qs.append(apply_rope(q, cos, sin)), ks.append(apply_rope(k, cos, sin)), vs.append(_heads(v, self.heads))
        out_x, out_y = _joint_attention(qs, ks, vs).split([x.shape[1], y.shape[1]], dim=1)
        return self.xs_proj(out_x), self.au_proj(out_y)


class SingleStreamAttention(nn.Module):
    """Joint attention of one fused sequence from a precomputed qkv; only the q/k norms carry weights."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.xs_q_norm, self.xs_k_norm = RMSNorm(cfg.head_dim, 1e-5), RMSNorm(cfg.head_dim, 1e-5)

    def forward(self, qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        q, k, v = qkv.chunk(3, dim=-1)
        q, k = self.xs_q_norm(_heads(q, self.heads)), self.xs_k_norm(_heads(k, self.heads))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        return _joint_attention([q], [k], [_heads(v, self.heads)])


# ----------------------------------------------------------------------------------------------------------------
# blocks


class FourStreamBlock(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        h, m = cfg.hidden, cfg.mlp_hidden
        self.attn1 = FourStreamAttention(cfg)
        self.xs_mlp = Mlp(h, m)
        self.audio_mlp1, self.audio_mlp2, self.audio_mlp3 = Mlp(h, m), Mlp(h, m), Mlp(h, m)
        self.adaLN_modulation_xs = adaln(h, 6)
        self.adaLN_modulation_audio1, self.adaLN_modulation_audio2 = adaln(h, 6), adaln(h, 6)
        self.adaLN_modulation_audio3 = adaln(h, 6)

    def forward(self, streams: list[torch.Tensor], c: torch.Tensor, cos, sin) -> list[torch.Tensor]:
        mods = [m(c).chunk(6, dim=1) for m in (self.adaLN_modulation_xs, self.adaLN_modulation_audio1,
                                               self.adaLN_modulation_audio2, self.adaLN_modulation_audio3)]
        normed = [modulate(_prenorm(x), md[0], md[1]) for x, md in zip(streams, mods)]
        attn = self.attn1(normed, cos, sin)
        streams = [x + md[2].unsqueeze(1) * a for x, md, a in zip(streams, mods, attn)]
        mlps = (self.xs_mlp, self.audio_mlp1, self.audio_mlp2, self.audio_mlp3)
        return [x + md[5].unsqueeze(1) * mlp(modulate(_prenorm(x), md[3], md[4]))
                for x, md, mlp in zip(streams, mods, mlps)]


class DoubleStreamBlock(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        h, m = cfg.hidden, cfg.mlp_hidden
        self.attn1 = DoubleStreamAttention(cfg)
        self.xs_mlp, self.audio_mlp = Mlp(h, m), Mlp(h, m)
        self.adaLN_modulation_xs, self.adaLN_modulation_audio = adaln(h, 6), adaln(h, 6)

    def forward(self, x: torch.Tensor, y: torch.Tensor, c: torch.Tensor, cos, sin):
        mx = self.adaLN_modulation_xs(c).chunk(6, dim=1)
        my = self.adaLN_modulation_audio(c).chunk(6, dim=1)
        ax, ay = self.attn1(modulate(_prenorm(x), mx[0], mx[1]), modulate(_prenorm(y), my[0], my[1]), cos, sin)
        x = x + mx[2].unsqueeze(1) * ax
        y = y + my[2].unsqueeze(1) * ay
        x = x + mx[5].unsqueeze(1) * self.xs_mlp(modulate(_prenorm(x), mx[3], mx[4]))
        y = y + my[5].unsqueeze(1) * self.audio_mlp(modulate(_prenorm(y), my[3], my[4]))
        return x, y


class SingleStreamBlock(nn.Module):
    """Parallel attention + MLP from one fused projection (qkv_xs), merged by linear2, one gated residual."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        h, m = cfg.hidden, cfg.mlp_hidden
        self.hidden, self.mlp_hidden = h, m
        self.attn1 = SingleStreamAttention(cfg)
        self.qkv_xs = nn.Linear(h, 3 * h + m)
        self.linear2 = nn.Linear(h + m, h)
        self.adaLN_modulation_xs = adaln(h, 3)

    def forward(self, x: torch.Tensor, c: torch.Tensor, cos, sin) -> torch.Tensor:
        shift, scale, gate = self.adaLN_modulation_xs(c).chunk(3, dim=1)
        qkv, mlp = self.qkv_xs(modulate(_prenorm(x), shift, scale)).split([3 * self.hidden, self.mlp_hidden], dim=-1)
        out = self.linear2(torch.cat([self.attn1(qkv, cos, sin), F.gelu(mlp, approximate="tanh")], dim=-1))
        return x + gate.unsqueeze(1) * out


class FinalLayer(nn.Module):
    def __init__(self, hidden: int, out_dim: int):
        super().__init__()
        self.linear = nn.Linear(hidden, out_dim)
        self.adaLN_modulation = adaln(hidden, 2)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(_prenorm(x), shift, scale))


# ----------------------------------------------------------------------------------------------------------------


class TalkingHeadDiT(nn.Module):
    """forward(motion (B,N,140), t (B,), audio (B,N,...,audio_in), emo (B,), id_kp (B,63)) -> velocity (B,N,70)."""

    def __init__(self, cfg: DiTConfig = DiTConfig()):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.motion_embedder = TwoLayerMlp(2 * cfg.motion_dim, h)
        self.identity_embedder = TwoLayerMlp(cfg.id_dim, h)
        self.time_embedder = TwoLayerMlp(cfg.freq_dim, h)
        self.audio_embedder = AudioEmbedder(cfg.audio_in, h)
        self.emo_embedder = LabelEmbedder(h)
        self.blocks4 = nn.ModuleList(FourStreamBlock(cfg) for _ in range(cfg.n_four))
        self.blocks2 = nn.ModuleList(DoubleStreamBlock(cfg) for _ in range(cfg.n_double))
        self.blocks = nn.ModuleList(SingleStreamBlock(cfg) for _ in range(cfg.n_single))
        self.final_layer = FinalLayer(h, cfg.motion_dim)

    def forward(self, motion: torch.Tensor, t: torch.Tensor, audio: torch.Tensor, emo: torch.Tensor,
                id_kp: torch.Tensor) -> torch.Tensor:
        n = motion.shape[1]
        cos, sin = rope_tables(n, self.cfg.head_dim, motion.device)
        x = self.motion_embedder(motion)
        emo_emb = self.emo_embedder(emo)
        c = self.time_embedder(timestep_embedding(t, self.cfg.freq_dim)) + emo_emb
        a = self.audio_embedder(audio)
        e = emo_emb.unsqueeze(1).expand(-1, n, -1)
        i = self.identity_embedder(id_kp).unsqueeze(1).expand(-1, n, -1)
        streams = [x, a, e, i]
        for block in self.blocks4:
            streams = block(streams, c, cos, sin)
        x, y = streams[0], torch.cat(streams[1:], dim=1)
        for block in self.blocks2:
            x, y = block(x, y, c, cos, sin)
        z = torch.cat([x, y], dim=1)
        for block in self.blocks:
            z = block(z, c, cos, sin)
        return self.final_layer(z[:, :n], c)
