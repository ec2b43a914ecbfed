"""Converter: an official checkpoint file -> a model directory the server loads (ONNX graphs + model.json).

  cd training && /usr/bin/python3 -m causaltap_training.convert CHECKPOINT --arch bootstapir|tapir|gmrw \\
      --out ../models/NAME [--size 256] [--name NAME] [--description TEXT] [--softmax-temperature T] \\
      [--gmrw-sampling flow|feature]

Accepted files: PyTorch checkpoints written by `torch.save` -- a plain state_dict, or one wrapped in a dict under
"model" / "state_dict" / "model_state_dict" / "net" / "params" (any nesting of those), with or without the
DataParallel "module." prefix. Official files: `causal_bootstapir_checkpoint.pt` (--arch bootstapir),
`tapir_checkpoint_panning.pt` / causal TAPIR .pt (--arch tapir), the GMRW release checkpoint (--arch gmrw).

JAX/Haiku checkpoints of TAPIR and BootsTAPIR (`causal_bootstapir_checkpoint.npy`, `causal_tapir_checkpoint.npy`:
`np.load(allow_pickle=True).item()` = {"params": ..., "state": ...}) are mapped onto the same keys by
`jax_checkpoint.jax_to_torch` (names and layouts documented there). A JAX BootsTAPIR gets softmax temperature 10
(the JAX config) unless --softmax-temperature says otherwise; TAPIR's pyramid_level is read off the weights.

Anything else exits with status 2 and says what was expected and what was found: not a checkpoint at all, a
plain numpy array, missing / unexpected keys (and which architecture the keys do fit, when one does), unmapped
JAX parameters, or shape mismatches.

The official TAPIR (`tapir_checkpoint_panning.pt`) was trained with non-causal temporal convs; its step graph is
causal like every step graph, which is an approximation for that checkpoint (model.json says so).
Loading a .pt unpickles it: convert only files you trust.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

EXIT_UNSUPPORTED = 2

ARCHS = ("bootstapir", "tapir", "gmrw")
WRAPPER_KEYS = ("model", "state_dict", "model_state_dict", "net", "params", "module")
NUMPY_MAGIC = b"\x93NUMPY"


class UnsupportedCheckpoint(Exception):
    """The file is not a checkpoint this converter supports; the message says what was expected and found."""


# ----------------------------------------------------------------------------------------------------- loading
def load_checkpoint_file(path: Path):
    """("torch", unpickled torch.save object) or ("jax", np.load(...).item()); raises UnsupportedCheckpoint."""
    import numpy as np
    import torch

    if not path.is_file():
        raise UnsupportedCheckpoint(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(NUMPY_MAGIC):
        try:
            arr = np.load(str(path), allow_pickle=True)
        except Exception as e:  # noqa: BLE001
            raise UnsupportedCheckpoint(f"{path.name}: unreadable .npy file ({type(e).__name__}: {e})") from e
        if arr.dtype != object or arr.shape != ():
            raise UnsupportedCheckpoint(
                f"{path.name} is a plain numpy array {arr.dtype}{list(arr.shape)}, not a JAX checkpoint: expected a "
                "pickled dict {'params': {module: {param: array}}, 'state': ...} (np.save of the Haiku params)")
        return "jax", arr.item()
    if head.startswith(b"PK") and not zipfile.is_zipfile(path):
        raise UnsupportedCheckpoint(f"{path.name}: looks like a zip archive but is truncated or corrupt")
    try:
        try:
            return "torch", torch.load(str(path), map_location="cpu", weights_only=False)
        except TypeError:  # torch < 1.13 has no weights_only
            return "torch", torch.load(str(path), map_location="cpu")
    except Exception as e:  # noqa: BLE001 - torch raises many types for a file that is not a checkpoint
        raise UnsupportedCheckpoint(
            f"{path.name} is not a PyTorch checkpoint (torch.load failed: {type(e).__name__}: {str(e)[:200]}). "
            "Expected a file written by torch.save holding a state_dict, or a JAX .npy checkpoint.") from e


def jax_state_dict(obj, arch: str, model, source: str) -> Dict[str, "torch.Tensor"]:
    """Maps a JAX/Haiku TAPIR or BootsTAPIR checkpoint onto the model's torch keys."""
    import torch

    from .jax_checkpoint import JaxMappingError, jax_to_torch

    if arch == "gmrw":
        raise UnsupportedCheckpoint(f"{source} is a numpy/JAX file, but GMRW is released as a PyTorch checkpoint: "
                                    "expected a .pt written by torch.save")
    try:
        mapped = jax_to_torch(obj, {k: tuple(v.shape) for k, v in model.state_dict().items()})
    except JaxMappingError as e:
        raise UnsupportedCheckpoint(f"{source} is not a JAX {arch} checkpoint: {e}") from e
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in mapped.items()}


def infer_pyramid_level(fmt: str, obj, sd=None) -> Optional[int]:
    """TAPIR's pyramid_level from the mixer input width (388 + patch^2 * (2 + levels)), or None."""
    import numpy as np

    width = None
    if fmt == "torch" and sd is not None and "torch_pips_mixer.linear.weight" in sd:
        width = int(sd["torch_pips_mixer.linear.weight"].shape[1])
    elif fmt == "jax":
        try:
            from .jax_checkpoint import jax_params

            tree = jax_params(obj)
            w = next(v["w"] for m, v in tree.items() if m.endswith("pips_mlp_mixer/linear") and "w" in v)
            width = int(np.shape(w)[0])
        except Exception:  # noqa: BLE001 - the key check reports a broken tree
            return None
    if width is None or (width - 388) % 49:
        return None
    levels = (width - 388) // 49 - 2
    return levels if levels >= 0 else None


def extract_state_dict(obj, source: str = "checkpoint") -> Dict[str, "torch.Tensor"]:
    """The tensor state_dict inside a loaded checkpoint (unwraps WRAPPER_KEYS, strips "module.")."""
    import torch

    seen = []
    for _ in range(4):
        if isinstance(obj, torch.nn.Module):
            obj = obj.state_dict()
        if not isinstance(obj, Mapping):
            raise UnsupportedCheckpoint(f"{source} holds a {type(obj).__name__}, expected a dict (state_dict)")
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((k for k in WRAPPER_KEYS if k in obj and isinstance(obj[k], (Mapping, torch.nn.Module))), None)
        if inner is None:
            kinds = ", ".join(f"{k!r}: {type(v).__name__}" for k, v in list(obj.items())[:8])
            raise UnsupportedCheckpoint(
                f"{source} is a dict without a state_dict: expected tensors, or one of {list(WRAPPER_KEYS)} holding "
                f"them; found {{{kinds}{', ...' if len(obj) > 8 else ''}}}")
        seen.append(inner)
        obj = obj[inner]
    else:
        raise UnsupportedCheckpoint(f"{source}: state_dict nested too deeply ({' -> '.join(seen)})")
    out = {}
    for k, v in obj.items():
        k = str(k)
        while k.startswith("module."):
            k = k[len("module."):]
        out[k] = v
    return out


# ----------------------------------------------------------------------------------------------------- models
def build_model(arch: str, softmax_temperature: Optional[float] = None, size: Optional[Tuple[int, int]] = None,
                pyramid_level: Optional[int] = None):
    """A randomly initialised model of the official architecture `arch`."""
    import dataclasses

    if arch in ("bootstapir", "tapir"):
        from .tapir import Tapir, preset

        cfg = preset(arch)
        changes = {}
        if softmax_temperature is not None:
            changes["softmax_temperature"] = float(softmax_temperature)
        if size is not None:
            changes["resolution"] = tuple(size)
        if pyramid_level is not None:
            changes["pyramid_level"] = int(pyramid_level)
        return Tapir(dataclasses.replace(cfg, **changes) if changes else cfg)
    if arch == "gmrw":
        from .gmrw import build_gmrw

        return build_gmrw("official")
    raise ValueError(f"unknown arch {arch!r}; known: {ARCHS}")


def _examples(keys: Sequence[str], n: int = 5) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def _guess_arch(keys) -> Optional[str]:
    """The official architecture whose key set equals `keys`, if any."""
    for arch in ARCHS:
        if set(build_model(arch).state_dict().keys()) == set(keys):
            return arch
    return None


def check_state_dict(arch: str, model, sd: Mapping[str, "torch.Tensor"], source: str) -> None:
    """Raises UnsupportedCheckpoint naming missing/unexpected keys and shape mismatches."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    problems: List[str] = []
    if missing or unexpected:
        guess = _guess_arch(sd.keys())
        hint = (f" These keys are those of --arch {guess}." if guess and guess != arch else "")
        if missing:
            problems.append(f"{len(missing)} missing keys ({_examples(missing)})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys ({_examples(unexpected)})")
        raise UnsupportedCheckpoint(
            f"{source} is not a {arch} checkpoint: expected the {len(expected)} keys of the official {arch} "
            f"state_dict, found {len(sd)}: {'; '.join(problems)}.{hint}")
    shapes = [f"{k}: expected {tuple(expected[k].shape)}, found {tuple(sd[k].shape)}"
              for k in expected if tuple(expected[k].shape) != tuple(sd[k].shape)]
    if shapes:
        raise UnsupportedCheckpoint(f"{source} does not fit the official {arch} architecture: "
                                    f"{len(shapes)} shape mismatches ({'; '.join(shapes[:5])}"
                                    f"{', ...' if len(shapes) > 5 else ''})")


# ----------------------------------------------------------------------------------------------------- convert
def convert(checkpoint: Path, arch: str, out_dir: Path, size: Tuple[int, int] = (256, 256), name: Optional[str] = None,
            description: Optional[str] = None, softmax_temperature: Optional[float] = None,
            gmrw_sampling: str = "flow") -> dict:
    """Loads, validates and exports; returns the model card. Raises UnsupportedCheckpoint for unsupported files."""
    import torch

    from .export import export_model, sha256_file

    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; known: {ARCHS}")
    checkpoint = Path(checkpoint)
    fmt, obj = load_checkpoint_file(checkpoint)
    sd = extract_state_dict(obj, checkpoint.name) if fmt == "torch" else None
    if softmax_temperature is None and fmt == "jax" and arch == "bootstapir":
        softmax_temperature = 10.0  # the JAX BootsTAPIR config (the torch release keeps the torch default 20)
    # TAPIR releases differ in pyramid_level (torch panning TAPIR: 0, JAX TAPIR default: 1): read it off the weights
    levels = infer_pyramid_level(fmt, obj, sd) if arch == "tapir" else None
    model = build_model(arch, softmax_temperature, size if arch != "gmrw" else None, levels)
    if fmt == "jax":
        sd = jax_state_dict(obj, arch, model, checkpoint.name)
    check_state_dict(arch, model, sd, checkpoint.name)
    bad = [k for k, v in sd.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise UnsupportedCheckpoint(f"{checkpoint.name}: non-finite values in {_examples(bad)}")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
    model.eval()

    name = name or Path(out_dir).name
    provenance = {
        "source": "checkpoint",
        "file": checkpoint.name,
        "sha256": sha256_file(checkpoint),
        "format": "jax-npy" if fmt == "jax" else "torch",
        "arch": arch,
        "converted": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "converter": "python -m causaltap_training.convert",
    }
    if arch != "gmrw":
        provenance["softmax_temperature"] = model.config.softmax_temperature
        provenance["pyramid_level"] = model.config.pyramid_level
    if arch == "tapir":
        provenance["note"] = ("step.onnx runs the mixer's temporal convs causally; a TAPIR checkpoint trained "
                              "offline (non-causal, e.g. tapir_checkpoint_panning.pt) is approximated")
    if arch == "gmrw":
        description = description or f"GMRW (official architecture) converted from {checkpoint.name}"
        return export_model(out_dir, name, description, gmrw=model, gmrw_preset="official", size=size,
                            gmrw_sampling=gmrw_sampling, provenance=provenance)
    description = description or f"{'BootsTAPIR' if arch == 'bootstapir' else 'TAPIR'} (official architecture, causal) " \
                                 f"converted from {checkpoint.name}"
    return export_model(out_dir, name, description, tapir=model, tapir_preset=arch, size=size, provenance=provenance)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m causaltap_training.convert",
                                     description="Convert an official checkpoint to a CausalTap model directory.")
    parser.add_argument("checkpoint", type=Path, help="official checkpoint (.pt, or JAX .npy for tapir/bootstapir)")
    parser.add_argument("--arch", required=True, choices=ARCHS)
    parser.add_argument("--out", required=True, type=Path, help="model directory to write (e.g. models/bootstapir)")
    parser.add_argument("--size", type=int, nargs="+", default=[256],
                        help="model input size: S (square) or H W; multiple of 8 (TAPIR), of 8 (GMRW official)")
    parser.add_argument("--name", help="model name (default: the --out folder name)")
    parser.add_argument("--description", help="one line for `causaltap models`")
    parser.add_argument("--softmax-temperature", type=float,
                        help="TAPIR stage-1 softmax temperature (default 20, the torch release; the JAX BootsTAPIR "
                             "config uses 10)")
    parser.add_argument("--gmrw-sampling", choices=("flow", "feature"), default="flow",
                        help="GMRW matcher: flow = official (exact), feature = one transition row per point")
    args = parser.parse_args(argv)
    if len(args.size) not in (1, 2):
        parser.error("--size takes S or H W")
    size = (args.size[0], args.size[-1])
    try:
        import torch

        torch.set_num_threads(min(2, torch.get_num_threads()))
        card = convert(args.checkpoint, args.arch, args.out, size, args.name, args.description,
                       args.softmax_temperature, args.gmrw_sampling)
    except UnsupportedCheckpoint as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    except (RuntimeError, OSError) as e:  # the checkpoint was fine; exporting or writing failed
        print(f"error: export to {args.out} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}/model.json ({card['name']}: {card['description']})")
    for family in card["families"]:
        for graph in card[family]["graphs"].values():
            print(f"  {graph['file']:<18} sha256 {graph['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
