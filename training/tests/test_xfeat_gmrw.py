"""XFeatGMRW: starts as XFeat's nearest-neighbour walk (frozen backbone, identity transformer), trains with
gmrw_train --preset xfeat, exports through the gmrw_encoder / gmrw_match contract."""
import math

import numpy as np
import pytest
import torch

from causaltap_training.backbones.xfeat import pretrained_dir


@pytest.fixture()
def xfeat_gmrw():
    if pretrained_dir() is None:
        pytest.skip("../shared/pretrained/xfeat.onnx not found (set CAUSALTAP_SHARED to the shared folder)")
    from causaltap_training.gmrw.xfeat_gmrw import XFeatGMRW

    torch.manual_seed(0)
    return XFeatGMRW().eval()


def test_untrained_model_is_the_scaled_xfeat_walk_plus_position_encoding(xfeat_gmrw):
    m = xfeat_gmrw
    frames = torch.rand(2, 3, 64, 96) * 255
    with torch.no_grad():
        feats = m.encode(frames).features
    assert feats.shape == (2, 64, 8, 12)
    scale = m.log_feature_scale.exp()
    np.testing.assert_allclose(feats.norm(dim=1).numpy(), scale.item(), rtol=1e-5)
    # logits = f.f / sqrt(C) = scale^2 cos / 8: the cosine temperature the module starts from
    assert math.isclose(scale.item() ** 2 / math.sqrt(64), 30.0, rel_tol=1e-5)
    with torch.no_grad():
        pair = m.pair(feats[:1], feats[1:])
    pe = m.position_encoding(8, 12)
    np.testing.assert_allclose(pair.prev.numpy(), (feats[:1] + pe).numpy(), atol=1e-5)  # messages are zero
    np.testing.assert_allclose(pair.new.numpy(), (feats[1:] + pe).numpy(), atol=1e-5)
    # only the scale and the transformer train; XFeat is frozen
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert "log_feature_scale" in trainable and not any(n.startswith("xfeat.") for n in trainable)
    assert any(n.startswith("transformer.") for n in trainable)


def test_transformer_messages_get_gradients_at_init(xfeat_gmrw):
    m = xfeat_gmrw.train()
    feats = m.encode(torch.rand(2, 3, 64, 64) * 255).features
    pair = m.pair(feats[:1], feats[1:])
    (pair.prev * torch.randn_like(pair.prev)).sum().backward()
    grads = [p.grad for n, p in m.named_parameters() if n.startswith("transformer.") and p.grad is not None]
    assert grads and max(float(g.abs().max()) for g in grads) > 0  # zero gains, not zero projections: it can learn
    assert all(torch.isfinite(g).all() for g in grads)


def test_a_shifted_frame_is_matched_from_the_start(xfeat_gmrw):
    # A real frame and the same frame moved by (16, 8) px: the untrained walk already moves points by about that much.
    import cv2

    clip = pretrained_dir().parent / "data" / "everyday_real" / "sam2_03_blocks.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} not found")
    ok, bgr = cv2.VideoCapture(str(clip)).read()
    assert ok
    frame = torch.from_numpy(cv2.cvtColor(cv2.resize(bgr, (384, 216)), cv2.COLOR_BGR2RGB)).permute(2, 0, 1).float()[None]
    m = xfeat_gmrw
    for dx, dy in ((16, 8), (5, 3)):
        a, b = frame[..., 24:152, 24:280], frame[..., 24 - dy:152 - dy, 24 - dx:280 - dx]  # b = a moved by (dx, dy)
        ys, xs = torch.meshgrid(torch.arange(20, 120, 20.0), torch.arange(20, 240, 20.0), indexing="ij")
        pts = torch.stack([xs.flatten(), ys.flatten()], -1)[None]
        with torch.no_grad():
            feats = m.encode(torch.cat([a, b])).features
            res = m.match(m.pair(feats[:1], feats[1:]), pts, "flow", image_hw=(128, 256))
        motion = (res.forward - pts)[0].median(dim=0).values.numpy()
        np.testing.assert_allclose(motion, [dx, dy], atol=1.5)


def test_training_smoke_and_export(tmp_path, xfeat_gmrw, ort):
    from causaltap_training.export.onnx_export import export_gmrw
    from causaltap_training.train import gmrw_train

    args = ["--preset", "xfeat", "--batch", "1", "--clip-len", "3", "--size", "64", "--real-fraction", "0",
            "--no-real-textures", "--log-every", "1", "--warmup", "1", "--threads", "2", "--walk-rows", "32",
            "--flip-prob", "0", "--steps", "2", "--val-clips", "0", "--device", "cpu", "--out", str(tmp_path / "run")]
    gmrw_train.train(gmrw_train.parse_args(args))
    model = gmrw_train.load_model(tmp_path / "run" / "last.pt").eval()
    assert type(model).__name__ == "XFeatGMRW"
    infos = export_gmrw(model, tmp_path / "graphs", (64, 64), sampling="feature")
    frame = np.random.default_rng(0).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    got = ort.onnx_run(tmp_path / "graphs" / infos["gmrw_encoder"].file, {"frame": frame})["gmrw_features"]
    with torch.no_grad():
        want = model.encode((torch.from_numpy(frame) + 1) * 127.5).features.numpy()
    np.testing.assert_allclose(got, want, atol=1e-3 * float(np.abs(want).max()))
