"""Re-scores a bundled model with the C# engine and replaces that evaluation entry of its card (model.json).

    cd training
    /usr/bin/python3 -m causaltap_training.export.rescore ../models/causaltap-default ../../shared/data/tapvid_davis32_dev \
        --method tapir-lk --note "what changed since the last entry"

For engine changes that move the score of unchanged weights (a new tracking method, a new local-tracker setting):
the entry with the same dataset and method is replaced, others are kept; the graphs are not touched.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .bundle import run_eval
from .card import write_model_card


def rescore(model_dir: Path, dataset: str, method: str | None, note: str | None) -> dict:
    card_path = model_dir / "model.json"
    card = json.loads(card_path.read_text())
    entry = run_eval(model_dir, dataset, method)
    if note:
        entry["note"] = note
    kept = [e for e in card.get("evaluation", [])
            if not (e.get("dataset") == entry["dataset"] and e.get("method") == entry.get("method"))]
    card["evaluation"] = kept + [entry]
    write_model_card(model_dir, card)
    return entry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", type=Path)
    p.add_argument("dataset", help="TAP-Vid npz folder (optionally '::how it was made')")
    p.add_argument("--method", default=None, help="tracking method (default: the model's default)")
    p.add_argument("--note", default=None, help="recorded with the entry")
    a = p.parse_args(argv)
    entry = rescore(a.model_dir, a.dataset, a.method, a.note)
    m = entry["result"]["mean"]
    print(f"{entry['command']}: AJ {100 * m['average_jaccard']:.1f} / delta_avg {100 * m['average_pts_within_thresh']:.1f} "
          f"/ OA {100 * m['occlusion_accuracy']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
