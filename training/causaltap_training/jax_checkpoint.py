"""Official JAX/Haiku TAPIR / BootsTAPIR checkpoints (`.npy`) <-> the tapnet torch state_dict (our key names).

The JAX release (`causal_bootstapir_checkpoint.npy`, `causal_tapir_checkpoint.npy`, ...) is a pickled dict,
`np.load(path, allow_pickle=True).item() == {"params": {module: {param: array}}, "state": {...}}`. Module names
follow Haiku's naming of tapnet's `tapnet/models/tapir_model.py` and `resnet.py` (modules built in `__init__` are
joined with "/~/", modules built inside a call with "/", repeated names get "_1", "_2", ...):

  tapir/~/resnet/~/initial_conv                               w [7,7,3,64]          resnet_torch.initial_conv
  tapir/~/resnet/~/block_group_G/~/block_B/~/shortcut_conv    w [1,1,I,O]           ...blocks.B.proj_conv
  tapir/~/resnet/~/block_group_G/~/block_B/~/conv_0|conv_1    w [3,3,I,O]           ...blocks.B.conv_0|conv_1
  tapir/~/resnet/~/block_group_G/~/block_B/~/instancenorm_0|1 scale, offset [C]     ...blocks.B.bn_0|bn_1
  tapir/~/extra_convs/layer_norm[_i]                          scale, offset         extra_convs.blocks.i.layer_norm
  tapir/~/extra_convs/conv2_d[_2i], conv2_d_(2i+1)            w [3,3,I,O], b        extra_convs.blocks.i.conv, conv_1
  tapir/~/cost_volume_regression_1|2, cost_volume_occlusion_1 w [3,3,I,O], b        torch_cost_volume_track_mods.hid1|2|3
  tapir/~/cost_volume_occlusion_2, occlusion_out              w [I,O], b            ...hid4, occ_out
  tapir/~/pips_mlp_mixer/linear, linear_1                     w [I,O], b            torch_pips_mixer.linear, linear_1
  tapir/~/pips_mlp_mixer/layer_norm                           scale                 torch_pips_mixer.layer_norm
  tapir/~/pips_mlp_mixer/block[_b]/layer_norm|layer_norm_1    scale                 ...blocks.b.layer_norm|layer_norm_1
  tapir/~/pips_mlp_mixer/block[_b]/mlp1_up|mlp1_up_1          w [3,1,m*D], b        ...blocks.b.mlp1_up|mlp1_up_1
  tapir/~/pips_mlp_mixer/block[_b]/mlp2_up|mlp2_down          w [I,O], b            ...conv_channels_mixer.mlp2_*

Layouts: Conv2D HWIO -> OIHW; Linear [in, out] -> [out, in]; DepthwiseConv1D [k, 1, m*C] -> [m*C, 1, k] (output
channel o reads input channel o // m in both); LayerNorm/InstanceNorm scale -> weight, offset -> bias.
The modules TAPIR builds but never calls (regression_hid/out, conv_stats_*) are ignored when present.

No real JAX file is available here: `torch_to_jax` writes the same layout from a torch state_dict, and the tests
check the round trip torch -> haiku layout -> torch on the fixture weights; the names come from tapnet's source.
"""
from __future__ import annotations

import re
from typing import Dict, Mapping, Tuple

import numpy as np

PREFIX = "tapir"
IGNORED_JAX_MODULES = ("regression_hid", "regression_out", "conv_stats_conv1", "conv_stats_conv2", "conv_stats_linear")

_COST = {"hid1": "cost_volume_regression_1", "hid2": "cost_volume_regression_2", "hid3": "cost_volume_occlusion_1",
         "hid4": "cost_volume_occlusion_2", "occ_out": "occlusion_out"}


class JaxMappingError(ValueError):
    """A JAX parameter tree that does not map onto the requested architecture."""


def _nth(name: str, i: int) -> str:
    """Haiku's i-th module of a name: name, name_1, name_2, ..."""
    return name if i == 0 else f"{name}_{i}"


def _kind(torch_param: str) -> str:
    return {"weight": "w", "bias": "b"}[torch_param]


def torch_key_to_jax(key: str, shape: Tuple[int, ...]) -> Tuple[str, str, str]:
    """(haiku module, haiku param, layout) for one torch state_dict key. layout: conv2d|linear|dwconv1d|vector."""
    p = PREFIX
    m = re.fullmatch(r"resnet_torch\.initial_conv\.weight", key)
    if m:
        return f"{p}/~/resnet/~/initial_conv", "w", "conv2d"
    m = re.fullmatch(r"resnet_torch\.block_groups\.(\d+)\.blocks\.(\d+)\.(\w+)\.(weight|bias)", key)
    if m:
        g, b, mod, param = m.groups()
        base = f"{p}/~/resnet/~/block_group_{g}/~/block_{b}/~/"
        if mod in ("bn_0", "bn_1"):
            return base + f"instancenorm_{mod[-1]}", {"weight": "scale", "bias": "offset"}[param], "vector"
        name = {"proj_conv": "shortcut_conv", "conv_0": "conv_0", "conv_1": "conv_1"}[mod]
        return base + name, _kind(param), "conv2d"
    m = re.fullmatch(r"extra_convs\.blocks\.(\d+)\.(layer_norm|conv|conv_1)\.(weight|bias)", key)
    if m:
        i, mod, param = int(m.group(1)), m.group(2), m.group(3)
        if mod == "layer_norm":
            return f"{p}/~/extra_convs/{_nth('layer_norm', i)}", {"weight": "scale", "bias": "offset"}[param], "vector"
        return f"{p}/~/extra_convs/{_nth('conv2_d', 2 * i + (mod == 'conv_1'))}", _kind(param), "conv2d"
    m = re.fullmatch(r"torch_cost_volume_track_mods\.(\w+)\.(weight|bias)", key)
    if m:
        mod, param = m.groups()
        layout = "linear" if mod in ("hid4", "occ_out") else "conv2d"
        return f"{p}/~/{_COST[mod]}", _kind(param), layout
    m = re.fullmatch(r"torch_pips_mixer\.(linear|linear_1|layer_norm)\.(weight|bias)", key)
    if m:
        mod, param = m.groups()
        if mod == "layer_norm":
            return f"{p}/~/pips_mlp_mixer/layer_norm", "scale", "vector"
        return f"{p}/~/pips_mlp_mixer/{mod}", _kind(param), "linear"
    m = re.fullmatch(r"torch_pips_mixer\.blocks\.(\d+)\.(?:conv_channels_mixer\.)?(\w+)\.(weight|bias)", key)
    if m:
        b, mod, param = int(m.group(1)), m.group(2), m.group(3)
        base = f"{p}/~/pips_mlp_mixer/{_nth('block', b)}/"
        if mod in ("layer_norm", "layer_norm_1"):
            return base + mod, "scale", "vector"
        if mod in ("mlp1_up", "mlp1_up_1"):
            return base + mod, _kind(param), "dwconv1d" if param == "weight" else "vector"
        if mod in ("mlp2_up", "mlp2_down"):
            return base + mod, _kind(param), "linear" if param == "weight" else "vector"
    raise JaxMappingError(f"no JAX name known for torch key {key!r}")


def _to_jax_layout(value: np.ndarray, layout: str, param: str) -> np.ndarray:
    if param != "w":
        return value
    if layout == "conv2d":
        return np.transpose(value, (2, 3, 1, 0))
    if layout == "linear":
        return np.transpose(value, (1, 0))
    if layout == "dwconv1d":
        return np.transpose(value, (2, 1, 0))
    return value


def _to_torch_layout(value: np.ndarray, layout: str, param: str, shape: Tuple[int, ...]) -> np.ndarray:
    if param == "w":
        if layout == "conv2d":
            value = np.transpose(value, (3, 2, 0, 1))
        elif layout == "linear":
            value = np.transpose(value, (1, 0))
        elif layout == "dwconv1d":
            value = np.transpose(value, (2, 1, 0))
    if layout == "vector" or param in ("b", "scale", "offset"):
        value = np.reshape(value, -1) if value.size == int(np.prod(shape)) else value
    return value


def torch_to_jax(state_dict: Mapping[str, np.ndarray]) -> Dict[str, Dict[str, Dict[str, np.ndarray]]]:
    """{"params": {module: {param: array}}, "state": {}} in the official JAX layout (for tests and tools)."""
    params: Dict[str, Dict[str, np.ndarray]] = {}
    for key, value in state_dict.items():
        value = np.asarray(value)
        module, param, layout = torch_key_to_jax(key, value.shape)
        params.setdefault(module, {})[param] = _to_jax_layout(value, layout, param)
    return {"params": params, "state": {}}


def jax_params(obj) -> Dict[str, Dict[str, np.ndarray]]:
    """The {module: {param: array}} tree of a loaded JAX checkpoint ({"params": ...} or the tree itself)."""
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, Mapping):
        raise JaxMappingError(f"expected a dict (np.load(...).item()), found {type(obj).__name__}")
    tree = obj.get("params", obj)
    if not isinstance(tree, Mapping) or not tree or not all(isinstance(v, Mapping) for v in tree.values()):
        raise JaxMappingError("expected {'params': {module: {param: array}}}, found keys "
                              f"{sorted(map(str, obj))[:8]}")
    return tree


def jax_to_torch(obj, expected: Mapping[str, Tuple[int, ...]]) -> Dict[str, np.ndarray]:
    """Maps a JAX checkpoint onto the torch keys of `expected` ({key: shape}, e.g. a model's state_dict shapes).

    Raises JaxMappingError naming missing and unmapped JAX parameters.
    """
    tree = jax_params(obj)
    # the top-level module name is "tapir" in the release; accept another one consistently used
    roots = {m.split("/")[0] for m in tree}
    if len(roots) != 1:
        raise JaxMappingError(f"expected one top-level module (e.g. 'tapir'), found {sorted(roots)}")
    root = roots.pop()
    out: Dict[str, np.ndarray] = {}
    used = set()
    missing = []
    for key, shape in expected.items():
        module, param, layout = torch_key_to_jax(key, tuple(shape))
        module = root + module[len(PREFIX):]
        if module not in tree or param not in tree[module]:
            missing.append(f"{module}:{param} (for {key})")
            continue
        used.add((module, param))
        out[key] = _to_torch_layout(np.asarray(tree[module][param]), layout, param, tuple(shape))
    unmapped = [f"{m}:{p}" for m, params in tree.items() for p in params
                if (m, p) not in used and not m.split("/")[-1] in IGNORED_JAX_MODULES]
    if missing or unmapped:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing JAX parameters ({', '.join(missing[:4])}"
                         f"{', ...' if len(missing) > 4 else ''})")
        if unmapped:
            parts.append(f"{len(unmapped)} JAX parameters with no place in this architecture "
                         f"({', '.join(sorted(unmapped)[:4])}{', ...' if len(unmapped) > 4 else ''})")
        raise JaxMappingError("; ".join(parts))
    return out
