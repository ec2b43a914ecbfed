"""causaltap_training.export.bundle: a training run becomes a model directory whose card says how it was made."""
import dataclasses
import json

import torch

from causaltap_training.data.dataset import make_validation_set
from causaltap_training.data.synthetic import SyntheticConfig
from causaltap_training.export import bundle
from causaltap_training.export.card import verify_model_dir
from causaltap_training.tapir import Tapir, preset


def _fake_run(tmp_path):
    """A run folder as train.supervised writes it: config.json, train/val logs (one resume), last.pt."""
    run = tmp_path / "run1"
    run.mkdir()
    config = preset("cpu")
    args = {"preset": "cpu", "steps": 3000, "batch": 2, "frames": 12, "size": 256, "points": 48, "seed": 0,
            "threads": 2, "device": "cpu", "resume": True, "no_augment": False, "out": str(run)}
    (run / "config.json").write_text(json.dumps({"args": args, "model_config": dataclasses.asdict(config)}))
    log = [{"step": 10, "elapsed_min": 1.0}, {"step": 200, "elapsed_min": 29.5},  # first segment
           {"step": 210, "elapsed_min": 0.5}, {"step": 400, "elapsed_min": 10.0}]  # after --resume
    (run / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (run / "val.jsonl").write_text(json.dumps({"step": 400, "average_jaccard": 0.1}) + "\n")
    torch.manual_seed(0)
    model = Tapir(config)
    torch.save({"model": model.state_dict(), "model_config": dataclasses.asdict(config), "step": 400},
               run / "last.pt")
    return run


def test_bundle_writes_a_verified_model_with_training_provenance(tmp_path):
    run = _fake_run(tmp_path)
    out = tmp_path / "models" / "m"
    assert bundle.main(["--run", str(run), "--out", str(out), "--name", "m", "--default"]) == 0

    card = json.loads((out / "model.json").read_text())
    assert set(verify_model_dir(out)) == {"encoder.onnx", "query.onnx", "step.onnx"}  # raises on a sha256 mismatch
    assert card["default"] is True and card["families"] == ["tapir"]
    prov = card["provenance"]
    assert prov["steps"] == 400
    assert prov["wall_time_min"] == 39.5  # 29.5 + 10.0: elapsed_min restarts at a resume
    assert prov["resumed_segments"] == 2
    assert "--preset cpu" in prov["command"] and "--steps 3000" in prov["command"]
    assert "--resume" not in prov["command"].split("(")[0]  # the command to run, not how this run was resumed
    assert prov["synthetic_validation_during_training"]["average_jaccard"] == 0.1
    assert card["evaluation"] == []


def test_bundle_size_exports_the_trained_weights_at_another_input_resolution(tmp_path):
    run = _fake_run(tmp_path)  # trained at 256
    out = tmp_path / "models" / "m320"
    assert bundle.main(["--run", str(run), "--out", str(out), "--name", "m320", "--size", "320"]) == 0

    card = json.loads((out / "model.json").read_text())
    assert card["input"]["shape"] == [1, 3, 320, 320]
    assert card["tapir"]["config"]["resolution"] == [320, 320]
    assert card["provenance"]["exported_resolution"].startswith("320x320 (trained at 256x256")
    assert "320x320 input (trained at 256x256)" in card["description"]
    import onnx
    dims = [d.dim_value for d in onnx.load(str(out / "encoder.onnx")).graph.input[0].type.tensor_type.shape.dim]
    assert dims[-2:] == [320, 320]


def test_bundle_scores_eval_folders_with_the_csharp_engine(tmp_path):
    run = _fake_run(tmp_path)
    data = tmp_path / "val"
    make_validation_set(data, 1, SyntheticConfig(frames=4, size=(64, 64), num_points=8), use_real_textures=False)
    out = tmp_path / "models" / "m"
    assert bundle.main(["--run", str(run), "--out", str(out), "--name", "m",
                        "--eval", f"{data}::made by the test"]) == 0

    (entry,) = json.loads((out / "model.json").read_text())["evaluation"]
    assert entry["dataset_made_by"] == "made by the test"
    assert entry["command"].startswith("./causaltap eval ") and entry["command"].endswith(" --json")
    result = entry["result"]
    assert result["num_videos"] == 1 and result["query_mode"] == "first"
    assert 0.0 <= result["mean"]["average_jaccard"] <= 1.0


def test_card_description_names_every_stage_with_its_own_steps():
    stages = [{"kind": "supervised", "steps": 2538}, {"kind": "supervised", "steps": 3500},
              {"kind": "bootstap", "steps": 800}, {"kind": "bootstap", "steps": 1500}]
    assert bundle.describe_stages(stages, teacher=True) == (
        "supervised on synthetic clips (2538 + 962 steps), then BootsTAP self-training on unlabeled real video "
        "co-trained with synthetic (800 + 1500 steps); EMA teacher exported")
    assert bundle.describe_stages(stages[:1], teacher=False) == "supervised on synthetic clips (2538 steps)"
