"""Weights manifest for audio preparation: the MDX-Net vocal separator StableAvatar ships (Kim_Vocal_2.onnx).

The file is the UVR release asset that audio-separator downloads (also mirrored in the HF repo FrancisRing/StableAvatar
as ``Kim_Vocal_2.onnx``). MDX-Net ONNX files carry no hyper-parameters; UVR keys them by an MD5 of the file's last
10,000 KiB (``UVR_HASH`` below) in its ``mdx_model_data/model_data_new.json``; we pin that entry in ``MDX_PARAMS``
so separation needs no network at run time.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.weights import WeightFile

KIM_VOCAL_2 = "audio-separator/Kim_Vocal_2.onnx"
UVR_HASH = "970b3f9492014d18fefeedfe4773cb42"
# UVR model_data_new.json entry for UVR_HASH, in audio-separator's model_data format (dim_t is a power of two).
MDX_PARAMS = {
    "compensate": 1.009,
    "mdx_dim_f_set": 3072,
    "mdx_dim_t_set": 8,
    "mdx_n_fft_scale_set": 7680,
    "primary_stem": "Vocals",
}
# The ONNX graph's signature: spectrogram chunks [batch, 4 = (L.re, L.im, R.re, R.im), dim_f, 2**dim_t] in and out.
INPUT_NAME, OUTPUT_NAME = "input", "output"

FILES = [
    WeightFile(
        local=KIM_VOCAL_2,
        url="https://github.com/TRvlvr/model_repo/releases/download/all_public_uvr_models/Kim_Vocal_2.onnx",
        size=66_759_214,
        sha256="ce74ef3b6a6024ce44211a07be9cf8bc6d87728cc852a68ab34eb8e58cde9c8b",
        note="MDX-Net vocal model by KimberleyJSN (UVR release; same file as FrancisRing/StableAvatar "
             "Kim_Vocal_2.onnx)",
    ),
]


def build_mdx_onnx(path: Path, mixing: np.ndarray, opset: int = 13) -> None:
    """Write an ONNX graph with Kim_Vocal_2's input/output names, dtypes and shapes: a 1x1 conv mixing the 4 planes.

    ``mixing`` is the [4, 4] matrix; the identity times g makes the "vocals" g times the mix, which tests can check.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    dim_f, dim_t = MDX_PARAMS["mdx_dim_f_set"], 2 ** MDX_PARAMS["mdx_dim_t_set"]
    weight = numpy_helper.from_array(np.asarray(mixing, np.float32).reshape(4, 4, 1, 1), name="mix_weight")
    graph = helper.make_graph(
        [helper.make_node("Conv", [INPUT_NAME, "mix_weight"], [OUTPUT_NAME], kernel_shape=[1, 1])],
        "mdx_net_test",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch_size", 4, dim_f, dim_t])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch_size", 4, dim_f, dim_t])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="mouthpiece-test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def make_test_checkpoints(root: Path) -> None:
    """A tiny random MDX graph at the official name (loads through the real separator, separates nothing useful)."""
    rng = np.random.default_rng(0)
    build_mdx_onnx(Path(root) / KIM_VOCAL_2, np.eye(4) * 0.5 + rng.normal(0.0, 0.05, (4, 4)))
