"""Tiny ONNX stand-ins for det_10g.onnx, 2d106det.onnx and landmark.onnx with the official input/output signatures.

They are real ONNX graphs run by onnxruntime through the production code path (pre-processing, output order,
decoding), with random weights. `params` overrides let tests pin weights to get hand-computable outputs.
Building them needs the `onnx` package (a test/dev requirement); running them needs only onnxruntime.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SCRFD_STRIDES = (8, 16, 32)
SCRFD_ANCHORS = 2
# det_10g output names: scores for strides 8/16/32, then boxes, then 5-point keypoints.
SCRFD_OUTPUTS = ("448", "471", "494", "451", "474", "497", "454", "477", "500")
LMK106_INPUT, LMK106_OUTPUT, LMK106_SIZE = "data", "fc1", 192
LMK203_INPUT, LMK203_OUTPUTS, LMK203_SIZE = "input", ("output", "853", "856"), 224


def _model(nodes, inputs, outputs, initializers):
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "mouthpiece_test_model", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="mouthpiece-test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _init(name: str, value: np.ndarray):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, dtype=np.float32 if value.dtype.kind == "f" else value.dtype),
                                   name)


def scrfd_model(rng: np.random.Generator, params: dict[str, np.ndarray] | None = None):
    """Per stride s: AveragePool(s) -> 1x1 convs for 2 anchors x (score, 4 distances, 10 keypoint offsets).

    Outputs are (N, 1), (N, 4), (N, 10) with N = (H/s)(W/s)*2 rows ordered (y, x, anchor), like det_10g.
    """
    from onnx import TensorProto, helper

    params = params or {}
    nodes, inits = [], []
    for s in SCRFD_STRIDES:
        nodes.append(helper.make_node("AveragePool", ["input.1"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]))
    outputs = []
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for i, s in enumerate(SCRFD_STRIDES):
            name = SCRFD_OUTPUTS[("score", "bbox", "kps").index(kind) * 3 + i]
            w_name, b_name = f"{kind}{s}_w", f"{kind}{s}_b"
            channels = SCRFD_ANCHORS * width
            w = params.get(w_name, rng.normal(0, 0.5, (channels, 3, 1, 1)))
            b = params.get(b_name, rng.normal(-6.0 if kind == "score" else 1.0, 0.3, (channels,)))
            inits += [_init(w_name, np.asarray(w, np.float32)), _init(b_name, np.asarray(b, np.float32))]
            conv = f"{kind}{s}_conv"
            nodes.append(helper.make_node("Conv", [f"pool{s}", w_name, b_name], [conv]))
            if kind == "score":
                nodes.append(helper.make_node("Sigmoid", [conv], [conv + "_sig"]))
                conv += "_sig"
            nodes.append(helper.make_node("Transpose", [conv], [conv + "_t"], perm=[0, 2, 3, 1]))
            shape_name = f"shape_{width}"
            if shape_name not in {t.name for t in inits}:
                inits.append(_init(shape_name, np.array([-1, width], np.int64)))
            nodes.append(helper.make_node("Reshape", [conv + "_t", shape_name], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["?", width]))
    inputs = [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "?", "?"])]
    order = {name: i for i, name in enumerate(SCRFD_OUTPUTS)}
    outputs.sort(key=lambda o: order[o.name])
    return _model(nodes, inputs, outputs, inits)


def landmark106_model(rng: np.random.Generator, params: dict[str, np.ndarray] | None = None):
    """Raw 0..255 RGB (1, 3, 192, 192) -> in-graph (x - 127.5) * (1/128) -> 4x4 average pool -> Gemm -> fc1 (1, 212).

    The in-graph Sub/Mul mirrors the official mxnet export, which is why callers feed unnormalised pixels.
    """
    from onnx import TensorProto, helper

    params = params or {}
    size = LMK106_SIZE
    w = params.get("fc1_w", rng.normal(0, 0.05, (212, 48)))
    b = params.get("fc1_b", rng.uniform(-0.6, 0.6, (212,)))
    inits = [_init("mean", np.array(127.5, np.float32)), _init("inv_std", np.array(1 / 128, np.float32)),
             _init("fc1_w", np.asarray(w, np.float32)), _init("fc1_b", np.asarray(b, np.float32))]
    nodes = [
        helper.make_node("Sub", [LMK106_INPUT, "mean"], ["centered"], name="_minusscalar0"),
        helper.make_node("Mul", ["centered", "inv_std"], ["scaled"], name="_mulscalar0"),
        helper.make_node("AveragePool", ["scaled"], ["pooled"], kernel_shape=[size // 4] * 2,
                         strides=[size // 4] * 2),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc1_w", "fc1_b"], [LMK106_OUTPUT], transB=1),
    ]
    inputs = [helper.make_tensor_value_info(LMK106_INPUT, TensorProto.FLOAT, [1, 3, size, size])]
    outputs = [helper.make_tensor_value_info(LMK106_OUTPUT, TensorProto.FLOAT, [1, 212])]
    return _model(nodes, inputs, outputs, inits)


def landmark203_model(rng: np.random.Generator, params: dict[str, np.ndarray] | None = None):
    """RGB in [0, 1] (1, 3, 224, 224) -> three heads like LivePortrait's landmark.onnx; the third holds the
    203 points as fractions of the 224 crop."""
    from onnx import TensorProto, helper

    params = params or {}
    size = LMK203_SIZE
    heads = (("output", 214, None), ("853", 262, [1, 131, 2]), ("856", 406, [1, 203, 2]))
    inits, nodes = [], [
        helper.make_node("AveragePool", [LMK203_INPUT], ["pooled"], kernel_shape=[size // 4] * 2,
                         strides=[size // 4] * 2),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
    ]
    outputs = []
    for name, width, shape in heads:
        w = params.get(f"{name}_w", rng.normal(0, 0.05, (width, 48)))
        b = params.get(f"{name}_b", rng.uniform(0.3, 0.7, (width,)))
        inits += [_init(f"{name}_w", np.asarray(w, np.float32)), _init(f"{name}_b", np.asarray(b, np.float32))]
        gemm = name if shape is None else f"{name}_flat"
        nodes.append(helper.make_node("Gemm", ["flat", f"{name}_w", f"{name}_b"], [gemm], transB=1))
        if shape is not None:
            inits.append(_init(f"{name}_shape", np.array(shape, np.int64)))
            nodes.append(helper.make_node("Reshape", [gemm, f"{name}_shape"], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape or [1, width]))
    inputs = [helper.make_tensor_value_info(LMK203_INPUT, TensorProto.FLOAT, [1, 3, size, size])]
    return _model(nodes, inputs, outputs, inits)


def save(model, path: Path) -> None:
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def write_test_onnx_models(detector: Path, landmark106: Path, landmark203: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    save(scrfd_model(rng), Path(detector))
    save(landmark106_model(rng), Path(landmark106))
    save(landmark203_model(rng), Path(landmark203))
