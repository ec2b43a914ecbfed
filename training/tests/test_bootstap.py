"""BootsTAP self-training: the student view's geometry, query resampling, the cycle mask, one step (student update +
EMA teacher), exact resume, the dev-set guard, the run history for the model card, and a CLI -> bundle -> ONNX
Runtime smoke run. Tiny clips and the tiny presets: seconds, not minutes."""
import dataclasses
import json

import cv2
import numpy as np
import pytest
import torch

from causaltap_training.data import real_clips
from causaltap_training.data.real_clips import RealClipCache, RealClips, assert_not_dev_set
from causaltap_training.data.synthetic import procedural_texture
from causaltap_training.export import card
from causaltap_training.export.card import training_history
from causaltap_training.tapir import Tapir, preset
from causaltap_training.train import bootstap, supervised

SIZE, FRAMES, POINTS = 64, 4, 8


def _write_video(path, frames=10, hw=(72, 96), seed=0, fps=30):
    """A textured image panning a few pixels per frame (something trackable), as an mp4."""
    rng = np.random.default_rng(seed)
    tex = procedural_texture(rng, hw[0] + 40, hw[1] + 40).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (hw[1], hw[0]))
    for i in range(frames):
        w.write(np.ascontiguousarray(tex[2 * i:2 * i + hw[0], 3 * i:3 * i + hw[1], ::-1]))
    w.release()


@pytest.fixture
def data_root(tmp_path):
    """A miniature ../shared/data: one real and one sim video, a jpg folder, and a dev split that must be ignored."""
    root = tmp_path / "data"
    _write_video(root / "robot_real" / "arm.mp4", seed=1)
    _write_video(root / "robot_sim" / "sim_arm.mp4", seed=2)
    jpgs = root / "everyday_real" / "tum_rgbd_fr2_20f"
    jpgs.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for i in range(6):
        cv2.imwrite(str(jpgs / f"{i:05d}.jpg"), procedural_texture(rng, 48, 64).astype(np.uint8))
    _write_video(root / "tapvid_davis32_dev" / "davis.mp4", seed=4)
    _write_video(root / "robot_real" / "tapvid_davis32_dev_copy.mp4", seed=5)
    return root


def _see_everything(model):
    """Random weights say "occluded" everywhere (no label would survive); a trained teacher sees most points."""
    with torch.no_grad():
        model.torch_cost_volume_track_mods.occ_out.weight.zero_()
        model.torch_cost_volume_track_mods.occ_out.bias.fill_(-8.0)


@pytest.fixture
def init_ckpt(tmp_path):
    """A tiny-preset checkpoint in the training-checkpoint format (random weights)."""
    torch.manual_seed(0)
    cfg = preset("cpu_fast", resolution=(SIZE, SIZE), causal=True)
    path = tmp_path / "init" / "last.pt"
    path.parent.mkdir()
    model = Tapir(cfg)
    _see_everything(model)
    torch.save({"model": model.state_dict(), "model_config": dataclasses.asdict(cfg), "step": 7}, path)
    return path


def _cli_args(tmp_path, data_root, init, out="boot", *extra):
    return ["--init", str(init), "--out", str(tmp_path / out), "--data-root", str(data_root),
            "--cache-dir", str(tmp_path / "cache"), "--size", str(SIZE), "--frames", str(FRAMES), "--points",
            str(POINTS), "--batch", "1", "--workers", "0", "--no-real-textures", "--val-clips", "0",
            "--log-every", "1", "--warmup", "1", "--threads", "2", "--lr", "1e-3"] + list(extra)


# ----------------------------------------------------------------------------------------------- geometry
def test_affine_roundtrip_and_rendered_blob_lands_on_the_mapped_point():
    rng = np.random.default_rng(0)
    affines = bootstap.view_affines(rng, 6, SIZE, min_scale=0.5)
    assert np.all(affines[:, 0, 0] >= 1.0) and np.all(affines[:, 0, 0] <= 2.0 + 1e-9)  # zoom in [1, 1/min_scale]
    pts = rng.uniform(0, SIZE, (6, 2))
    back = bootstap.apply_affine(bootstap.invert_affine(affines), bootstap.apply_affine(affines, pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)

    # a Gaussian blob at a sub-pixel raster position: its rendered centroid is where the mapped point says
    x, y = 30.3, 27.6
    cx, cy = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5)  # raster pixel centres
    blob = (np.exp(-((cx - x) ** 2 + (cy - y) ** 2) / (2 * 1.5 ** 2)) * 250).astype(np.float32)
    checked = 0
    for a in affines:
        want = bootstap.apply_affine(a, np.array([x, y]))
        if not np.all((want > 8) & (want < SIZE - 8)):
            continue
        img = cv2.warpAffine(blob, bootstap._to_cv(a), (SIZE, SIZE), flags=cv2.INTER_LINEAR)
        got = np.array([(img * cx).sum(), (img * cy).sum()]) / img.sum()
        np.testing.assert_allclose(got, want, atol=0.05)
        checked += 1
    assert checked >= 3
    # and the uint8 video path renders the same geometry
    video = np.repeat(np.clip(blob, 0, 255).astype(np.uint8)[None, ..., None], 3, -1)
    a = bootstap.view_affines(np.random.default_rng(5), 1, SIZE, 0.7)
    view = bootstap.render_view(video, a, SIZE)[0, ..., 0].astype(np.float64)
    want = bootstap.apply_affine(a[0], np.array([x, y]))
    np.testing.assert_allclose([(view * cx).sum() / view.sum(), (view * cy).sum() / view.sum()], want, atol=0.1)


def test_view_boxes_stay_inside_the_frame():
    for seed in range(20):
        a = bootstap.view_affines(np.random.default_rng(seed), 8, SIZE, 0.5)
        inv = bootstap.invert_affine(a)
        corners = np.array([[0, 0], [SIZE, SIZE]], float)
        src = bootstap.apply_affine(inv[:, None], corners[None])  # where the view's corners come from
        assert np.all(src >= -1e-9) and np.all(src <= SIZE + 1e-9)


# ----------------------------------------------------------------------------------------------- labels
def test_resample_picks_visible_frames_after_the_query():
    rng = np.random.default_rng(0)
    visible = torch.from_numpy(rng.random((3, 50, 8)) < 0.4)
    visible[0, 0] = False
    visible[0, 0, 2] = True          # only visible at its own query frame: nothing to resample
    qf = torch.from_numpy(rng.integers(0, 8, (3, 50)))
    qf[0, 0] = 2
    seen = set()
    for s in range(20):
        r = bootstap.resample_frames(visible, qf, np.random.default_rng(s))
        has = (visible & (torch.arange(8) > qf[..., None])).any(-1)
        assert torch.equal(r >= 0, has)
        b, n = torch.nonzero(has, as_tuple=True)
        assert torch.all(visible[b, n, r[b, n]]) and torch.all(r[b, n] > qf[b, n])
        assert r[0, 0] == -1
        seen.add(int(r[1, 3]) if has[1, 3] else -1)
    if has[1, 3] and int((visible[1, 3] & (torch.arange(8) > qf[1, 3])).sum()) > 1:
        assert len(seen) > 1  # a random choice, not always the same frame


def test_cycle_mask_drops_an_inconsistent_track():
    t = 6
    # queries (t, y, x): track 0 and 1 queried on frame 1 at (x=10, y=20); track 2 has no resampled frame
    qp = torch.tensor([[[1.0, 20.0, 10.0], [1.0, 20.0, 10.0], [0.0, 5.0, 5.0]]])
    frame = torch.tensor([[4, 4, -1]])
    back = torch.full((1, 3, t, 2), 100.0)  # backward tracks on the reversed clip: wrong everywhere ...
    back[0, 0, t - 1 - 1] = torch.tensor([11.0, 22.5])  # ... except track 0 at the query frame's reversed index
    back[0, 1, 1] = torch.tensor([10.0, 20.0])  # track 1 is right only at the un-reversed index: inconsistent
    back[0, 2, t - 1] = torch.tensor([5.0, 5.0])
    keep, err = bootstap.cycle_mask(back, qp, frame, 4.0)
    assert keep.tolist() == [[True, False, False]]
    assert err[0, 0].item() == pytest.approx(np.hypot(1.0, 2.5))
    # and the reversed queries sit on the forward track at the resampled frame
    tracks = torch.arange(3 * t * 2, dtype=torch.float32).view(1, 3, t, 2)
    cq = bootstap.cycle_queries(tracks, frame, t)
    assert cq[0, 0].tolist() == [t - 1 - 4, tracks[0, 0, 4, 1].item(), tracks[0, 0, 4, 0].item()]


def test_student_targets_map_tracks_and_mask_outside_the_view():
    b, n, t = 1, 2, 3
    tracks = torch.tensor([[[[10.0, 10.0], [20.0, 12.0], [30.0, 14.0]],
                            [[5.0, 50.0], [6.0, 60.0], [7.0, 63.0]]]])
    labels = {"tracks": tracks, "occluded": torch.zeros(b, n, t, dtype=torch.bool),
              "resample_frame": torch.tensor([[2, -1]]), "keep": torch.tensor([[True, True]])}
    qp = torch.tensor([[[0.0, 10.0, 10.0], [0.0, 50.0, 5.0]]])
    affine = torch.tensor([[[2.0, 0, -4.0], [0, 2.0, -8.0]]]).repeat(t, 1, 1)[None]  # zoom 2 around (2, 4)
    out = bootstap.student_targets(labels, qp, affine, np.random.default_rng(0), resample_prob=1.0, size=SIZE)
    np.testing.assert_allclose(out["target_points"][0, 0].numpy(), [[16, 12], [36, 16], [56, 20]])
    assert out["resampled"].tolist() == [[True, False]]  # track 1 has no resampled frame: keeps its own query
    np.testing.assert_allclose(out["query_points"][0, 0].numpy(), [2, 20, 56])  # (t, y, x) on the track at t=2
    np.testing.assert_allclose(out["query_points"][0, 1].numpy(), [0, 92, 6])   # outside the view (y 92 > 64)
    assert out["frame_mask"][0, 0].tolist() == [1, 1, 1]
    assert out["frame_mask"][0, 1].tolist() == [0, 0, 0]  # query outside the student view: the track is dropped


# ----------------------------------------------------------------------------------------------- data
def test_dev_set_guard(tmp_path, data_root):
    with pytest.raises(ValueError, match="development split"):
        assert_not_dev_set(data_root / "tapvid_davis32_dev" / "davis.mp4")
    with pytest.raises(ValueError, match="development split"):
        RealClipCache.build(data_root / "tapvid_davis32_dev", tmp_path / "c1", SIZE)
    with pytest.raises(ValueError, match="development split"):
        bootstap.main(["--init", "x.pt", "--out", str(tmp_path / "o"), "--steps", "1", "--data-root",
                       str(data_root / "tapvid_davis32_dev"), "--val-clips", "0"])
    cache = RealClipCache.build(data_root, tmp_path / "c2", SIZE)
    sources = [e.source for e in cache.entries]
    assert sorted(sources) == ["everyday_real/tum_rgbd_fr2_20f", "robot_real/arm.mp4", "robot_sim/sim_arm.mp4"]
    assert {e.source: e.domain for e in cache.entries}["robot_sim/sim_arm.mp4"] == "sim"
    assert not any("davis" in p.name for p in (tmp_path / "c2").iterdir())


def test_real_windows_are_deterministic(tmp_path, data_root):
    cache = RealClipCache.build(data_root, tmp_path / "c", SIZE)
    assert cache.frames(cache.entries[0]).shape[1:] == (SIZE, SIZE, 3)
    a, b = RealClips(cache, FRAMES, seed=3), RealClips(RealClipCache.build(data_root, tmp_path / "c", SIZE), FRAMES, 3)
    for i in range(5):
        wa, wb = a.window(i), b.window(i)
        assert wa["video"].shape == (FRAMES, SIZE, SIZE, 3) and np.array_equal(wa["video"], wb["video"])
        assert (wa["source"], wa["start"], wa["stride"]) == (wb["source"], wb["start"], wb["stride"])
    assert len({a.window(i)["source"] for i in range(30)}) == 3
    no_sim = RealClipCache.build(data_root, tmp_path / "c", SIZE, include_sim=False)
    assert all(e.domain == "real" for e in no_sim.entries)


# ----------------------------------------------------------------------------------------------- training
def _models_and_batch(data_root, tmp_path, synthetic=True):
    from causaltap_training.data.dataset import SyntheticClips
    from causaltap_training.data.synthetic import SyntheticConfig

    torch.manual_seed(0)
    student = Tapir(preset("cpu_fast", resolution=(SIZE, SIZE), causal=True)).train()
    _see_everything(student)
    teacher = Tapir(student.config).eval()
    teacher.load_state_dict(student.state_dict())
    with torch.no_grad():  # a teacher that differs from the student, so the EMA has somewhere to go
        for p in teacher.parameters():
            p.add_(0.01 * torch.randn_like(p))
    cache = RealClipCache.build(data_root, tmp_path / "cache", SIZE)
    syn = SyntheticClips(1, 10, SyntheticConfig(frames=FRAMES, size=(SIZE, SIZE), num_points=POINTS),
                         use_real_textures=False) if synthetic else None
    items = bootstap.BootstapItems(RealClips(cache, FRAMES, 0), syn, POINTS, 0)
    batch = bootstap.collate([items[0], items[1]])
    return student, teacher, batch


def test_step_updates_student_and_moves_teacher_by_the_ema(tmp_path, data_root):
    student, teacher, batch = _models_and_batch(data_root, tmp_path)
    args = bootstap.parse_args(["--init", "x", "--out", "x", "--steps", "10", "--size", str(SIZE), "--ema", "0.9",
                                "--cycle-px", "1000", "--warmup", "1"])  # a loose cycle check: labels survive
    opts = (torch.optim.AdamW(student.parameters(), lr=1e-3), torch.optim.AdamW(student.parameters(), lr=1e-3))
    s0 = {k: v.clone() for k, v in student.state_dict().items()}
    t0 = {k: v.clone() for k, v in teacher.state_dict().items()}
    rec = bootstap.train_step(student, teacher, opts, batch, 0, args)
    assert np.isfinite(rec["real_loss"]) and np.isfinite(rec["syn_loss"]) and rec["scored_frac"] > 0
    assert rec["kept_frac"] > 0
    s1, t1 = student.state_dict(), teacher.state_dict()
    changed = [k for k in s0 if not torch.equal(s0[k], s1[k])]
    assert len(changed) > len(s0) // 2, "the student did not learn"
    for k in s0:
        torch.testing.assert_close(t1[k], 0.9 * t0[k] + 0.1 * s1[k], rtol=0, atol=1e-6)
    assert not torch.equal(t1[changed[0]], t0[changed[0]])
    assert all(len(o.state) > 0 for o in opts), "both optimisers stepped"


def test_a_strict_cycle_check_drops_everything_and_skips_the_real_update(tmp_path, data_root):
    student, teacher, batch = _models_and_batch(data_root, tmp_path, synthetic=False)
    args = bootstap.parse_args(["--init", "x", "--out", "x", "--steps", "10", "--size", str(SIZE),
                                "--cycle-px", "-1", "--synthetic-weight", "0"])
    opts = (torch.optim.AdamW(student.parameters(), lr=1e-3), torch.optim.AdamW(student.parameters(), lr=1e-3))
    s0 = {k: v.clone() for k, v in student.state_dict().items()}
    rec = bootstap.train_step(student, teacher, opts, batch, 0, args)
    assert rec["kept_frac"] == 0 and rec["scored_frac"] == 0
    for k, v in student.state_dict().items():
        assert torch.equal(v, s0[k])


def test_resume_reproduces_an_uninterrupted_run(tmp_path, data_root, init_ckpt):
    bootstap.main(_cli_args(tmp_path, data_root, init_ckpt, "a", "--steps", "3"))
    bootstap.main(_cli_args(tmp_path, data_root, init_ckpt, "b", "--steps", "3", "--max-minutes", "1e-9"))
    assert torch.load(tmp_path / "b" / "last.pt")["step"] == 1
    bootstap.main(_cli_args(tmp_path, data_root, init_ckpt, "b", "--steps", "3", "--resume"))
    a, b = torch.load(tmp_path / "a" / "last.pt"), torch.load(tmp_path / "b" / "last.pt")
    assert a["step"] == b["step"] == 3
    for part in ("model", "teacher"):
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=1e-5, atol=1e-6)
    logs = [json.loads(x) for x in (tmp_path / "a" / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2, 3] and all(0 <= r["kept_frac"] <= 1 for r in logs)
    assert any(r["scored_frac"] > 0 for r in logs), "no real-video update happened: the test would prove little"
    cfg = json.loads((tmp_path / "b" / "config.json").read_text())
    assert cfg["kind"] == "bootstap" and cfg["init_from_step"] == 7 and cfg["init_from"].endswith("init/last.pt")


def test_init_from_a_bootstap_run_keeps_its_teacher(tmp_path, data_root, init_ckpt):
    bootstap.main(_cli_args(tmp_path, data_root, init_ckpt, "a", "--steps", "2"))
    first = torch.load(tmp_path / "a" / "last.pt")
    assert any(not torch.equal(first["model"][k], first["teacher"][k]) for k in first["model"]), "EMA left the teacher equal"
    # --ema 1 freezes the teacher: after a step it is still the one the new run started with
    bootstap.main(_cli_args(tmp_path, data_root, tmp_path / "a" / "last.pt", "b", "--steps", "1", "--ema", "1"))
    second = torch.load(tmp_path / "b" / "last.pt")
    cfg = json.loads((tmp_path / "b" / "config.json").read_text())
    assert cfg["init_teacher"] is True and cfg["init_from_step"] == 2
    for k in first["teacher"]:
        torch.testing.assert_close(second["teacher"][k], first["teacher"][k])
    assert json.loads((tmp_path / "a" / "config.json").read_text())["init_teacher"] is False


# ----------------------------------------------------------------------------------------------- card history
def _write_run(run, args, log, val, **extra):
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"args": args, **extra}))
    (run / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (run / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in val))


def test_training_history_walks_init_links(tmp_path):
    sup, boot1, boot2 = tmp_path / "runs" / "sup", tmp_path / "runs" / "boot1", tmp_path / "runs" / "boot2"
    _write_run(sup, {"preset": "cpu", "steps": 8000, "seed": 0, "frames": 12, "out": str(sup), "resume": True},
               [{"step": 100, "elapsed_min": 10.0}, {"step": 200, "elapsed_min": 20.0},   # segment 1
                {"step": 300, "elapsed_min": 5.0}, {"step": 400, "elapsed_min": 15.0}],   # after --resume
               [{"step": 250, "average_jaccard": 0.2}, {"step": 300, "average_jaccard": 0.25},
                {"step": 400, "average_jaccard": 0.3}])
    _write_run(boot1, {"steps": 50, "seed": 2, "ema": 0.99, "init": str(sup / "step_0000300.pt"), "out": str(boot1)},
               [{"step": 10, "elapsed_min": 1.0}, {"step": 50, "elapsed_min": 4.0}],
               [{"step": 50, "average_jaccard": 0.31}],
               kind="bootstap", init_from=str(sup / "step_0000300.pt"), init_from_step=300,
               data={"real": {"sources": [{"source": "robot_real/a.mp4", "domain": "real", "frames": 9}],
                              "frames_total": 9}})
    _write_run(boot2, {"steps": 30, "seed": 3, "init": "../boot1/last.pt", "out": str(boot2)},
               [{"step": 30, "elapsed_min": 2.5}], [],
               kind="bootstap", init_from=str(boot1 / "last.pt"), init_from_step=50)

    hist = training_history(boot2)
    assert [h["kind"] for h in hist] == ["supervised", "bootstap", "bootstap"]
    assert [h["steps"] for h in hist] == [300, 50, 30]
    assert hist[0]["wall_minutes"] == pytest.approx(25.0)   # 20 (segment 1) + 5 (up to step 300 of segment 2)
    assert hist[0]["last_val"]["average_jaccard"] == 0.25  # the metrics at the step boot1 started from
    assert hist[1]["last_val"]["average_jaccard"] == 0.31 and hist[2]["last_val"] is None
    assert hist[1]["wall_minutes"] == pytest.approx(4.0) and hist[1]["seed"] == 2
    assert "causaltap_training.train.supervised" in hist[0]["command"] and "--preset cpu" in hist[0]["command"]
    assert "--resume" not in hist[0]["command"]
    assert "causaltap_training.train.bootstap" in hist[1]["command"] and "--ema 0.99" in hist[1]["command"]
    assert hist[1]["data"]["real"]["sources"][0]["source"] == "robot_real/a.mp4"
    assert hist[1]["init_from"].endswith("step_0000300.pt")
    assert "--seed 0" in hist[0]["command"]  # a zero is a value, not a switched-off flag
    assert [(card.TRAINING_DIR / h["run"]).resolve() for h in training_history(sup)] == [sup.resolve()]


# ----------------------------------------------------------------------------------------------- smoke
def test_cli_smoke_two_steps_then_bundle_and_onnx_runtime(tmp_path, data_root, ort):
    """supervised (1 step) -> bootstap CLI (2 steps) -> export/bundle on the run folder -> ONNX Runtime == torch."""
    from causaltap_training.export import bundle
    from causaltap_training.export.card import verify_model_dir

    sup_args = ["--preset", "cpu_fast", "--batch", "1", "--frames", str(FRAMES), "--size", str(SIZE), "--points",
                str(POINTS), "--workers", "0", "--no-real-textures", "--val-clips", "0", "--steps", "1",
                "--out", str(tmp_path / "sup")]
    supervised.main(sup_args)
    run = tmp_path / "boot"
    bootstap.main(_cli_args(tmp_path, data_root, tmp_path / "sup" / "last.pt", "boot", "--steps", "2",
                            "--val-clips", "1", "--val-points", "8", "--val-dir", str(tmp_path / "val"),
                            "--workers", "1"))
    logs = [json.loads(x) for x in (run / "train.jsonl").read_text().splitlines()]
    assert len(logs) == 2 and all(np.isfinite(r["real_loss"]) and np.isfinite(r["syn_loss"]) for r in logs)
    val = json.loads((run / "val.jsonl").read_text().splitlines()[-1])
    assert val["step"] == 2 and 0 <= val["teacher"]["average_jaccard"] <= 1
    assert [h["kind"] for h in training_history(run)] == ["supervised", "bootstap"]

    out = tmp_path / "model"
    assert bundle.main(["--run", str(run), "--out", str(out), "--name", "boot"]) == 0
    assert set(verify_model_dir(out)) == {"encoder.onnx", "query.onnx", "step.onnx"}
    model = supervised.load_model(run / "last.pt").eval()
    teacher = bootstap.load_teacher(run / "last.pt")
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), teacher.state_dict().values()))
    frame = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    pts = torch.tensor([[10.0, 20.0], [40.5, 33.2]])
    with torch.no_grad():
        grids = model.encode(frame)
        q = model.query_features(grids, pts)
        want = model.step(grids, q, model.initial_state(2))
    enc = ort.onnx_run(out / "encoder.onnx", {"frame": frame.numpy()})
    got = ort.onnx_run(out / "step.onnx", {
        "lowres": enc["lowres"], "hires": enc["hires"], "query_lowres": q.lowres.numpy(),
        "query_hires": q.hires.numpy(), "state": np.zeros((2, model.config.state_floats_per_point), np.float32)})
    np.testing.assert_allclose(got["position"], want.position.numpy(), atol=1e-3)
    np.testing.assert_allclose(got["occlusion_logit"], want.occlusion_logit.numpy(), atol=1e-3)

    # --weights teacher exports the EMA teacher: its encoder output differs from the student's and matches torch.
    out_t = tmp_path / "model_teacher"
    assert bundle.main(["--run", str(run), "--out", str(out_t), "--name", "boot-t", "--weights", "teacher"]) == 0
    with torch.no_grad():
        want_t = teacher.eval().encode(frame)
    enc_t = ort.onnx_run(out_t / "encoder.onnx", {"frame": frame.numpy()})
    np.testing.assert_allclose(enc_t["lowres"], want_t.lowres.numpy(), atol=1e-4)
    assert not np.allclose(enc_t["lowres"], enc["lowres"], atol=1e-6)
    assert "teacher" in json.loads((out_t / "model.json").read_text())["provenance"]["weights"]
