"""XFeat backbone (backbones/xfeat.py): parity with ONNX Runtime running the original ../shared/pretrained/xfeat.onnx
at 640x640, and that the module runs at other multiples of 32. Skips when the pretrained folder is absent."""
import numpy as np
import pytest
import torch

from causaltap_training.backbones.xfeat import XFeatBackbone, pretrained_dir


@pytest.fixture(scope="module")
def xfeat_path():
    d = pretrained_dir()
    if d is None:
        pytest.skip("../shared/pretrained/xfeat.onnx not found (set CAUSALTAP_SHARED to the shared folder)")
    return d / "xfeat.onnx"


def _image(h, w, seed=0):
    # smooth random image + noise: a descriptor CNN on pure noise would hide layout mistakes less well
    rng = np.random.default_rng(seed)
    low = rng.random((1, 3, h // 16, w // 16)).astype(np.float32)
    img = torch.nn.functional.interpolate(torch.from_numpy(low), (h, w), mode="bilinear", align_corners=False)
    return (img + 0.1 * torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)


def test_matches_onnx_runtime_at_640(xfeat_path, ort):
    net = XFeatBackbone.from_onnx(xfeat_path, with_reliability=True)
    img01 = _image(640, 640)
    got = ort.onnx_run(xfeat_path, {"input": img01.numpy()})
    with torch.no_grad():
        maps = net(img01 * 2 - 1)
    desc = maps.descriptors.numpy()
    scale = np.abs(got["output"]).max()
    np.testing.assert_allclose(desc, got["output"], atol=2e-4 * scale, rtol=0)
    np.testing.assert_allclose(maps.reliability.numpy(), got["266"], atol=1e-4, rtol=0)
    # the normalised descriptors (what a tracker uses) agree to float rounding
    a = desc / np.linalg.norm(desc, axis=1, keepdims=True)
    b = got["output"] / np.linalg.norm(got["output"], axis=1, keepdims=True)
    assert np.min(np.sum(a * b, axis=1)) > 0.9999


def test_any_multiple_of_32(xfeat_path):
    net = XFeatBackbone.from_onnx(xfeat_path)
    with torch.no_grad():
        maps = net(_image(256, 320) * 2 - 1)
    assert maps.s2.shape == (1, 8, 128, 160) and maps.s4.shape == (1, 24, 64, 80)
    assert maps.s8.shape == maps.fused.shape == maps.descriptors.shape == (1, 64, 32, 40)
    assert maps.s16.shape == (1, 64, 16, 20) and maps.s32.shape == (1, 64, 8, 10)
    assert maps.reliability is None
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.zeros(1, 3, 264, 256))


def test_rejects_a_graph_with_other_shapes(tmp_path, xfeat_path):
    import onnx
    from onnx import numpy_helper

    from causaltap_training.backbones import xfeat

    proto = onnx.load(str(xfeat_path))
    first = next(n for n in proto.graph.node if n.op_type == "Conv")
    init = next(i for i in proto.graph.initializer if i.name == first.input[1])
    init.CopyFrom(numpy_helper.from_array(np.zeros((5, 1, 3, 3), np.float32), init.name))
    bad = tmp_path / "bad.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(ValueError, match="block1.0"):
        xfeat.onnx_conv_weights(bad)
