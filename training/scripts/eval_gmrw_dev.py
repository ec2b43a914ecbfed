"""Online GMRW tracking (the engine's gmrw method, in PyTorch) on the development split: untrained XFeatGMRW and a
gmrw_train checkpoint, with both matcher conventions.

  /usr/bin/python3 training/scripts/eval_gmrw_dev.py runs/gmrw_xfeat1/last.pt [--data ../shared/data/tapvid_davis32_dev]

Prints AJ / delta_avg / OA x100 (train.metrics). Never trains on the split: it only scores.
"""
import argparse
import glob
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from causaltap_training.gmrw.xfeat_gmrw import XFeatGMRW  # noqa: E402
from causaltap_training.train.gmrw_train import evaluate, load_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[3] / "shared" / "data" / "tapvid_davis32_dev"))
    a = p.parse_args()
    torch.set_num_threads(2)
    clips = [dict(np.load(f)) for f in sorted(glob.glob(str(Path(a.data) / "*.npz")))]
    for name, model in (("untrained", XFeatGMRW()), ("trained", load_model(Path(a.checkpoint)))):
        for sampling in ("feature", "flow"):
            r = evaluate(model.eval(), clips, "cpu", sampling)
            print(name, sampling, json.dumps({k: round(100 * r[k], 1) for k in
                                              ("average_jaccard", "average_pts_within_thresh", "occlusion_accuracy")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
