"""`torch.onnx.export` of the TAPIR-family and GMRW graphs (opset 17, static spatial size, dynamic point axis).

  export_tapir(model, out_dir)  -> {"encoder": GraphInfo, "query": ..., "step": ...}
  export_gmrw(model, out_dir)   -> {"gmrw_encoder": GraphInfo, "gmrw_match": ...}

Each GraphInfo carries the file name, its sha256 and the input/output table (names, dtypes, shapes with the
dynamic axis named, meaning) that `card.write_model_card` puts into model.json. The graphs use only 4-D
sampling (GridSample on 4-D maps for TAPIR, Gather for GMRW); `check_graph` rejects any op outside
`ALLOWED_OPS` so that a model change that would add an op the CPU or CUDA providers lack fails loudly.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..gmrw.model import GMRW
from ..tapir.model import Tapir
from . import graphs as g

OPSET = 17

# Every op the exported graphs may contain. All of them are implemented by the ORT CPU provider; the list is a
# guard against accidental additions (e.g. a 5-D GridSample, Loop/If from scripting), checked after export.
ALLOWED_OPS = frozenset({
    "Add", "ArgMax", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "Div", "Einsum", "Equal",
    "Erf", "Expand", "Floor", "Gather", "GatherElements", "Gemm", "GridSample", "InstanceNormalization",
    "LayerNormalization", "Less", "MatMul", "Max", "Min", "Mul", "Neg", "Pad", "Pow", "Range", "ReduceMean",
    "ReduceSum", "Relu", "Reshape", "Shape", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tanh",
    "Transpose", "Unsqueeze", "Where", "AveragePool", "Greater", "Not", "And", "Or", "Identity", "Tile",
    "ReduceMax", "Abs", "Sigmoid", "Exp", "Sin", "Cos", "GreaterOrEqual", "LessOrEqual", "Flatten",
})


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, dtype, shape (ints, or the name of the dynamic axis) and meaning."""

    name: str
    dtype: str
    shape: Tuple
    semantics: str

    def as_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "semantics": self.semantics}


@dataclass(frozen=True)
class GraphInfo:
    """An exported graph: its file (relative to the model directory), sha256, I/O table and op types."""

    file: str
    sha256: str
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]
    ops: Tuple[str, ...]
    dynamic_axes: Dict[str, str]

    def as_dict(self) -> dict:
        return {"file": self.file, "sha256": self.sha256,
                "inputs": [s.as_dict() for s in self.inputs], "outputs": [s.as_dict() for s in self.outputs],
                "dynamic_axes": dict(self.dynamic_axes), "ops": list(self.ops)}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _export(module: nn.Module, args: Tuple[torch.Tensor, ...], path: Path, io_names, dynamic: Dict[str, Dict[int, str]],
            specs: Sequence[TensorSpec] = ()) -> Tuple[str, ...]:
    """Exports `module(*args)` to `path` (opset 17, constant folding) and returns the sorted op types."""
    import onnx  # imported here: only export needs it

    input_names, output_names = io_names
    module = module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python ints from shapes are expected and harmless
        buf = io.BytesIO()
        torch.onnx.export(module, args, buf, opset_version=OPSET, input_names=list(input_names),
                          output_names=list(output_names), dynamic_axes=dynamic, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    fill_layernorm_bias(proto)
    set_io_shapes(proto, specs)
    onnx.checker.check_model(proto)
    ops = check_graph(proto, path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(proto.SerializeToString())
    return ops


def set_io_shapes(proto, specs: Sequence[TensorSpec]) -> None:
    """Writes the documented shapes onto the graph inputs/outputs (static ints, the dynamic axis by name).

    The exporter's shape inference leaves some static output dims symbolic ("Divlowres_dim_0"); with the
    documented shapes on the graph, ORT and model viewers show exactly what model.json says.
    """
    by_name = {s.name: s for s in specs}
    for value in list(proto.graph.input) + list(proto.graph.output):
        spec = by_name.get(value.name)
        if spec is None:
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(spec.shape):
            raise RuntimeError(f"{value.name}: graph rank {len(dims)} != documented shape {spec.shape}")
        for dim, want in zip(dims, spec.shape):
            if isinstance(want, str):
                dim.ClearField("dim_value")
                dim.dim_param = want
            else:
                if dim.HasField("dim_value") and dim.dim_value != want:
                    raise RuntimeError(f"{value.name}: graph dim {dim.dim_value} != documented {want}")
                dim.ClearField("dim_param")
                dim.dim_value = int(want)


def fill_layernorm_bias(proto) -> int:
    """Gives every LayerNormalization without a bias input an explicit all-zero bias initializer.

    torch exports `F.layer_norm(x, shape, weight, None)` (TAPIR's bias-free LayerNorms) with the optional bias
    input left empty. That is valid ONNX, but ONNX Runtime 1.30 crashes (SIGSEGV while creating the session) on
    such a node at the "extended" optimisation level and above, which is the default. A zero bias is the same
    math. Returns the number of nodes changed.
    """
    from onnx import numpy_helper

    inits = {t.name: t for t in proto.graph.initializer}
    # torch de-duplicates equal initializers through Identity nodes (e.g. LayerNorm scales that are all ones)
    identity = {n.output[0]: n.input[0] for n in proto.graph.node if n.op_type == "Identity"}
    consts = {n.output[0]: n.attribute[0].t for n in proto.graph.node
              if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}

    def resolve(name):
        while name in identity:
            name = identity[name]
        return inits.get(name, consts.get(name))

    changed = 0
    for node in proto.graph.node:
        if node.op_type != "LayerNormalization":
            continue
        if len(node.input) >= 3 and node.input[2]:
            continue
        scale = resolve(node.input[1])
        if scale is None:
            raise RuntimeError(f"LayerNormalization {node.name}: scale {node.input[1]!r} is not an initializer")
        zeros = numpy_helper.from_array(np.zeros(numpy_helper.to_array(scale).shape, dtype=np.float32),
                                        name=f"{node.input[1]}__zero_bias")
        if zeros.name not in inits:
            proto.graph.initializer.append(zeros)
            inits[zeros.name] = zeros
        if len(node.input) >= 3:
            node.input[2] = zeros.name
        else:
            node.input.append(zeros.name)
        changed += 1
    return changed


def check_graph(proto, name: str) -> Tuple[str, ...]:
    """Raises when a graph has an op outside ALLOWED_OPS or a GridSample that is not 4-D; returns its op types."""
    ops = tuple(sorted({n.op_type for n in proto.graph.node}))
    unexpected = sorted(set(ops) - ALLOWED_OPS)
    if unexpected:
        raise RuntimeError(f"{name}: the exported graph uses ops outside the allowed set: {unexpected}")
    for node in proto.graph.node:
        if node.op_type == "GridSample":
            check_gridsample_4d(proto, node, name)
    return ops


def check_gridsample_4d(proto, node, name: str) -> None:
    """Raises unless the GridSample input is 4-D (5-D GridSample does not export / run on every provider)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(proto)
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in
             list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
             if v.type.tensor_type.HasField("shape")}  # no shape field = rank unknown to the inference
    rank = ranks.get(node.input[0])
    if rank is not None and rank != 4:
        raise RuntimeError(f"{name}: GridSample on a {rank}-D input (only 4-D sampling is allowed)")


def _info(path: Path, ops, io_names, specs_in, specs_out, dynamic) -> GraphInfo:
    axes = {}
    for tensor, dims in dynamic.items():
        for _, axis_name in dims.items():
            axes[tensor] = axis_name
    return GraphInfo(path.name, sha256_file(path), tuple(specs_in), tuple(specs_out), tuple(ops), axes)


def _export_plan(plan, specs, out_dir: Path) -> Dict[str, GraphInfo]:
    """Exports each graph of `plan` ({name: (module, args, io_names, dynamic axes)}) to out_dir/<name>.onnx."""
    infos = {}
    for name, (module, args, io_names, dynamic) in plan.items():
        path = out_dir / f"{name}.onnx"
        ops = _export(module, args, path, io_names, dynamic, specs[name][0] + specs[name][1])
        infos[name] = _info(path, ops, io_names, *specs[name], dynamic)
    return infos


# ----------------------------------------------------------------------------------------------------- TAPIR
def tapir_specs(model: Tapir) -> Dict[str, Tuple[List[TensorSpec], List[TensorSpec]]]:
    """Input/output tables of encoder/query/step for a TAPIR config (shapes at its resolution)."""
    cfg = model.config
    h, w = cfg.resolution
    lo = (1, cfg.lowres_dim, h // cfg.lowres_stride, w // cfg.lowres_stride)
    hi = (1, cfg.hires_dim, h // cfg.hires_stride, w // cfg.hires_stride)
    n = g.TAPIR_POINT_AXIS
    s = cfg.state_floats_per_point
    f32 = "float32"
    frame = TensorSpec("frame", f32, (1, 3, h, w), "RGB frame, NCHW, v = p / 127.5 - 1 for 8-bit p (range [-1, 1])")
    lowres = TensorSpec("lowres", f32, lo, "low-res feature grid (backbone unit 3 [+ ExtraConvs]), L2-normalised over C")
    hires = TensorSpec("hires", f32, hi, "hi-res feature grid (backbone unit 1), L2-normalised over C")
    points = TensorSpec("points", f32, (n, 2), "query points (x, y), raster model pixels, on the frame of the grids")
    qlo = TensorSpec("query_lowres", f32, (n, cfg.lowres_dim), "query feature sampled from lowres (bilinear, border)")
    qhi = TensorSpec("query_hires", f32, (n, cfg.hires_dim), "query feature sampled from hires (bilinear, border)")
    state_sem = (f"causal state, one row of {s} floats per point: conv1 [iters={cfg.num_pips_iter}, "
                 f"blocks={cfg.num_mixer_blocks}, steps={cfg.state_steps}, D={cfg.mixer_hidden_dim}] then conv2 "
                 f"[iters, blocks, steps, {cfg.mixer_expansion}*D], C order; zeros for a new point")
    state = TensorSpec("state", f32, (n, s), state_sem)
    return {
        "encoder": ([frame], [lowres, hires]),
        "query": ([lowres, hires, points], [qlo, qhi]),
        "step": ([lowres, hires, qlo, qhi, state], [
            TensorSpec("position", f32, (n, 2), "(x, y) raster model pixels on this frame"),
            TensorSpec("occlusion_logit", f32, (n,), "occlusion logit (higher = occluded)"),
            TensorSpec("expected_dist_logit", f32, (n,), "expected-distance logit (higher = less certain)"),
            TensorSpec("new_state", f32, (n, s), "causal state after this frame (same layout as state)")]),
    }


def export_tapir(model: Tapir, out_dir: Path, example_points: int = 5, seed: int = 0) -> Dict[str, GraphInfo]:
    """Writes encoder.onnx, query.onnx and step.onnx for `model` (at `model.config.resolution`) into out_dir."""
    out_dir = Path(out_dir)
    model = model.eval()
    cfg = model.config
    h, w = cfg.resolution
    gen = torch.Generator().manual_seed(seed)
    frame = torch.rand(1, 3, h, w, generator=gen) * 2 - 1
    points = torch.rand(example_points, 2, generator=gen) * torch.tensor([w, h], dtype=torch.float32)
    with torch.no_grad():
        grids = model.encode(frame)
        query = model.query_features(grids, points)
    state = torch.zeros(example_points, cfg.state_floats_per_point)
    n = g.TAPIR_POINT_AXIS
    specs = tapir_specs(model)
    plan = {
        "encoder": (g.TapirEncoderGraph(model), (frame,), g.TAPIR_ENCODER_IO, {}),
        "query": (g.TapirQueryGraph(model), (grids.lowres, grids.hires, points), g.TAPIR_QUERY_IO,
                  {"points": {0: n}, "query_lowres": {0: n}, "query_hires": {0: n}}),
        "step": (g.TapirStepGraph(model), (grids.lowres, grids.hires, query.lowres, query.hires, state),
                 g.TAPIR_STEP_IO,
                 {k: {0: n} for k in ("query_lowres", "query_hires", "state", "position", "occlusion_logit",
                                      "expected_dist_logit", "new_state")}),
    }
    return _export_plan(plan, specs, out_dir)


# ----------------------------------------------------------------------------------------------------- GMRW
def gmrw_specs(model: GMRW, image_hw: Tuple[int, int]) -> Dict[str, Tuple[List[TensorSpec], List[TensorSpec]]]:
    cfg = model.config
    h, w = image_hw
    s = cfg.feature_stride
    k = g.GMRW_POINT_AXIS
    f32 = "float32"
    feat = (1, cfg.feature_channels, h // s, w // s)
    frame = TensorSpec("frame", f32, (1, 3, h, w), "RGB frame, NCHW, v = p / 127.5 - 1 for 8-bit p (range [-1, 1])")
    return {
        "gmrw_encoder": ([frame], [TensorSpec("gmrw_features", f32, feat,
                                              f"CNN features (stride {s}), before position encoding; keep the "
                                              "previous frame's for gmrw_match")]),
        "gmrw_match": ([TensorSpec("prev_features", f32, feat, "gmrw_features of the previous frame"),
                        TensorSpec("new_features", f32, feat, "gmrw_features of the new frame"),
                        TensorSpec("points", f32, (k, 2), "(x, y) raster model pixels in the previous frame")],
                       [TensorSpec("forward", f32, (k, 2), "(x, y) raster model pixels in the new frame"),
                        TensorSpec("backward", f32, (k, 2),
                                   "forward mapped back into the previous frame, (x, y) raster model pixels"),
                        TensorSpec("fb_error", f32, (k,),
                                   "|backward - points| in model pixels; occluded where >= fb_threshold_px")]),
    }


def export_gmrw(model: GMRW, out_dir: Path, image_hw: Tuple[int, int] = (256, 256), sampling: str = "flow",
                example_points: int = 5, seed: int = 0) -> Dict[str, GraphInfo]:
    """Writes gmrw_encoder.onnx and gmrw_match.onnx for `model` at image size `image_hw` into out_dir."""
    out_dir = Path(out_dir)
    model = model.eval()
    cfg = model.config
    h, w = image_hw
    unit = cfg.feature_stride * cfg.attn_splits
    if h % unit or w % unit:
        raise ValueError(f"GMRW image size {h}x{w} must be a multiple of feature stride x attn_splits = {unit}")
    gen = torch.Generator().manual_seed(seed)
    frames = torch.rand(2, 3, h, w, generator=gen) * 2 - 1
    points = torch.rand(example_points, 2, generator=gen) * torch.tensor([w, h], dtype=torch.float32)
    enc = g.GmrwEncoderGraph(model)
    with torch.no_grad():
        f0, f1 = enc(frames[:1]), enc(frames[1:])
    k = g.GMRW_POINT_AXIS
    specs = gmrw_specs(model, image_hw)
    plan = {
        "gmrw_encoder": (enc, (frames[:1],), g.GMRW_ENCODER_IO, {}),
        "gmrw_match": (g.GmrwMatchGraph(model, image_hw, sampling), (f0, f1, points), g.GMRW_MATCH_IO,
                       {"points": {0: k}, "forward": {0: k}, "backward": {0: k}, "fb_error": {0: k}}),
    }
    return _export_plan(plan, specs, out_dir)
