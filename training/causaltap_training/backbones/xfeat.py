"""The XFeat descriptor backbone (Potje et al., CVPR 2024) as a PyTorch module, weights read from xfeat.onnx.

  net = XFeatBackbone.from_onnx(pretrained_path("xfeat.onnx"))     # or XFeatBackbone() + load_onnx_weights
  maps = net(frame)                                                 # frame [B,3,H,W] in [-1,1], H, W % 32 == 0

Layer order follows the graph of `../shared/pretrained/xfeat.onnx` (Apache-2.0, verlab/accelerated_features
@ c58e74f): grey = mean(RGB), instance norm, then five stride blocks of Conv(+bias)+ReLU (BatchNorm is already
folded into the convs), a 4x4 avg-pool skip added at 1/4, and a fusion at 1/8 of the 1/8, 1/16 and 1/32 maps.
Only the descriptor path (and the reliability head) is built; the keypoint head is not needed for tracking.
The ONNX graph fixes 640x640 through its Resize constants; here the bilinear upsampling is a pair of fixed
interpolation matrices (two MatMuls, the same as Resize linear / half_pixel), so the module runs at any multiple
of 32 and exports without a Resize op.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ONNX Conv nodes of the descriptor path in graph order -> (our layer name, stride, ReLU after it).
# The skip conv (1x1 on the pooled input) has no ReLU, nor has the last fusion conv (the descriptor).
LAYERS = (
    ("block1.0", 1, True), ("block1.1", 2, True), ("block1.2", 1, True), ("block1.3", 2, True),
    ("skip1", 1, False),
    ("block2.0", 1, True), ("block2.1", 1, True),
    ("block3.0", 2, True), ("block3.1", 1, True), ("block3.2", 1, True),
    ("block4.0", 2, True), ("block4.1", 1, True), ("block4.2", 1, True),
    ("block5.0", 2, True), ("block5.1", 1, True), ("block5.2", 1, True), ("block5.3", 1, True),
    ("fusion.0", 1, True), ("fusion.1", 1, True), ("fusion.2", 1, False),
    ("heatmap.0", 1, True), ("heatmap.1", 1, True), ("heatmap.2", 1, False),
)
SHAPES = {  # (out, in, k) of each layer, checked against the ONNX initializers
    "block1.0": (4, 1, 3), "block1.1": (8, 4, 3), "block1.2": (8, 8, 3), "block1.3": (24, 8, 3),
    "skip1": (24, 1, 1), "block2.0": (24, 24, 3), "block2.1": (24, 24, 3),
    "block3.0": (64, 24, 3), "block3.1": (64, 64, 3), "block3.2": (64, 64, 1),
    "block4.0": (64, 64, 3), "block4.1": (64, 64, 3), "block4.2": (64, 64, 3),
    "block5.0": (128, 64, 3), "block5.1": (128, 128, 3), "block5.2": (128, 128, 3), "block5.3": (64, 128, 1),
    "fusion.0": (64, 64, 3), "fusion.1": (64, 64, 3), "fusion.2": (64, 64, 1),
    "heatmap.0": (64, 64, 1), "heatmap.1": (64, 64, 1), "heatmap.2": (1, 64, 1),
}


class XFeatMaps(NamedTuple):
    """Intermediate maps of one forward pass (B frames, input H x W; all after their ReLU unless noted).

    Attributes:
      s2: [B, 8, H/2, W/2] block 1, second conv pair.
      s4: [B, 24, H/4, W/4] block 2 output.
      s8: [B, 64, H/8, W/8] block 3 output (before fusion).
      s16: [B, 64, H/16, W/16] block 4 output.
      s32: [B, 64, H/32, W/32] block 5 output.
      fused: [B, 64, H/8, W/8] s8 + up(s16) + up(s32) (fusion input).
      descriptors: [B, 64, H/8, W/8] XFeat's dense descriptors (the ONNX `output`; not L2-normalised).
      reliability: [B, 1, H/8, W/8] sigmoid reliability (the ONNX `266`), or None when not computed.
    """

    s2: torch.Tensor
    s4: torch.Tensor
    s8: torch.Tensor
    s16: torch.Tensor
    s32: torch.Tensor
    fused: torch.Tensor
    descriptors: torch.Tensor
    reliability: Optional[torch.Tensor]


def bilinear_matrix(n_out: int, n_in: int, dtype=torch.float32) -> torch.Tensor:
    """[n_out, n_in] weights of 1-D linear resize, half-pixel centres, edge-clamped (= ONNX Resize linear
    pytorch_half_pixel = F.interpolate(bilinear, align_corners=False))."""
    x = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    x = np.clip(x, 0, None)  # torch clamps negative source coordinates to 0
    i0 = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = x - i0
    m = np.zeros((n_out, n_in), np.float64)
    m[np.arange(n_out), i0] += 1 - w1
    m[np.arange(n_out), i1] += w1
    return torch.tensor(m, dtype=dtype)


def upsample_to(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Bilinear upsampling of [B, C, h0, w0] to [B, C, h, w] as two MatMuls (static sizes: constants in ONNX)."""
    # int(): under ONNX tracing shapes are tensors; the sizes are static, so the matrices become constants
    mh = bilinear_matrix(int(h), int(x.shape[-2]), x.dtype).to(x.device)
    mw = bilinear_matrix(int(w), int(x.shape[-1]), x.dtype).to(x.device)
    return torch.matmul(torch.matmul(mh, x), mw.t())


class XFeatBackbone(nn.Module):
    """XFeat's descriptor CNN (see module docstring). forward(frame in [-1, 1]) -> XFeatMaps."""

    def __init__(self, with_reliability: bool = False) -> None:
        super().__init__()
        self.with_reliability = with_reliability
        self.convs = nn.ModuleDict()
        for name, stride, _ in LAYERS:
            o, i, k = SHAPES[name]
            self.convs[name.replace(".", "_")] = nn.Conv2d(i, o, k, stride, padding=k // 2, bias=True)
        self._relu = {name: relu for name, _, relu in LAYERS}

    def _run(self, x: torch.Tensor, names: List[str]) -> torch.Tensor:
        for n in names:
            x = self.convs[n.replace(".", "_")](x)
            if self._relu[n]:
                x = F.relu(x)
        return x

    def forward(self, frame: torch.Tensor) -> XFeatMaps:
        if int(frame.shape[-1]) % 32 or int(frame.shape[-2]) % 32:
            raise ValueError(f"XFeat needs H and W multiples of 32, got {tuple(frame.shape[-2:])}")
        # the ONNX graph takes RGB in [0, 1]; instance norm makes the scale almost irrelevant, but keep it exact
        grey = ((frame + 1.0) * 0.5).mean(dim=1, keepdim=True)
        x = F.instance_norm(grey, eps=1e-5)
        s2 = self._run(x, ["block1.0", "block1.1", "block1.2"])
        s4 = self._run(s2, ["block1.3"])
        s4 = s4 + self._run(F.avg_pool2d(x, 4, 4), ["skip1"])
        s4 = self._run(s4, ["block2.0", "block2.1"])
        s8 = self._run(s4, ["block3.0", "block3.1", "block3.2"])
        s16 = self._run(s8, ["block4.0", "block4.1", "block4.2"])
        s32 = self._run(s16, ["block5.0", "block5.1", "block5.2", "block5.3"])
        h, w = int(s8.shape[-2]), int(s8.shape[-1])
        fused = s8 + upsample_to(s16, h, w) + upsample_to(s32, h, w)
        desc = self._run(fused, ["fusion.0", "fusion.1", "fusion.2"])
        rel = torch.sigmoid(self._run(desc, ["heatmap.0", "heatmap.1", "heatmap.2"])) if self.with_reliability else None
        return XFeatMaps(s2, s4, s8, s16, s32, fused, desc, rel)

    # ------------------------------------------------------------------ weights
    def load_onnx_weights(self, path: Path) -> None:
        """Copies the conv weights/biases from xfeat.onnx (descriptor + reliability Conv nodes, in graph order)."""
        for name, (w, b) in onnx_conv_weights(path).items():
            conv = self.convs[name.replace(".", "_")]
            if tuple(conv.weight.shape) != w.shape:
                raise ValueError(f"{name}: ONNX weight {w.shape} != module {tuple(conv.weight.shape)}")
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(w))
                conv.bias.copy_(torch.from_numpy(b))

    @classmethod
    def from_onnx(cls, path: Path, with_reliability: bool = False) -> "XFeatBackbone":
        net = cls(with_reliability)
        net.load_onnx_weights(path)
        return net.eval()


class FrozenXFeatBackbone(XFeatBackbone):
    """XFeat as a fixed feature extractor (the trackers' frozen backbone): no gradients, always in eval mode, so a
    tracker's `train()` leaves it alone and its features can be cached. Same parameter names as XFeatBackbone."""

    def __init__(self, with_reliability: bool = False) -> None:
        super().__init__(with_reliability)
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):
        return super().train(False)


def onnx_conv_weights(path: Path) -> Dict[str, tuple]:
    """{layer name: (weight, bias)} from the ONNX graph, mapped by walking the Conv nodes in graph order.

    The descriptor path's 23 Conv nodes come first in xfeat.onnx (the keypoint head's four 1x1 convs come last,
    after its unfold); each is checked against the expected shape and stride so a different graph fails loudly.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: i for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    if len(convs) < len(LAYERS):
        raise ValueError(f"{path}: {len(convs)} Conv nodes, expected at least {len(LAYERS)}")
    out = {}
    for node, (name, stride, _) in zip(convs, LAYERS):
        w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        b = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
        strides = [a.ints for a in node.attribute if a.name == "strides"]
        o, i, k = SHAPES[name]
        if w.shape != (o, i, k, k) or (strides and list(strides[0]) != [stride, stride]):
            raise ValueError(f"{path}: Conv node {node.name or node.output[0]} has weight {w.shape}, strides "
                             f"{list(strides[0]) if strides else None}; expected {name} {(o, i, k, k)} stride {stride}")
        out[name] = (w, b)
    return out


def pretrained_dir() -> Optional[Path]:
    """`<shared>/pretrained` (CAUSALTAP_SHARED, else ../shared next to the repository), or None when absent."""
    root = Path(__file__).resolve().parents[3]
    for c in (os.environ.get("CAUSALTAP_SHARED"), root.parent / "shared"):
        if c and (Path(c) / "pretrained" / "xfeat.onnx").is_file():
            return Path(c) / "pretrained"
    return None
