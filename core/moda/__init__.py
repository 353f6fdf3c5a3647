"""MoDA audio-to-motion: HuBERT features, the multi-stream motion DiT, rectified-flow sampling, motion arithmetic."""
