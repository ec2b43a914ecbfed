#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU and no network, run from a built tree:
#   1. reassembles artifacts/gpu-bundle/ (from scripts/gpu-bundle.sh) when the CLI or its CUDA provider library
#      (or .NET) is missing here, after checking the parts' sha256;
#   2. prints the GPU (nvidia-smi) and `causaltap --version`: ONNX Runtime version, providers, which load;
#   3. parity of CUDA (and TensorRT when it loads) against the CPU on the bundled model (models/causaltap-default):
#      a few frames through encoder -> query -> step, max abs difference per output against stated tolerances
#      (scripts/gpu_parity.py);
#   4. `causaltap bench --points 256,1024 --provider cuda` (and tensorrt when it loads).
# Exit code 0 when every step passed. OUT=<folder> also writes each step's output there.
#   ./scripts/gpu-check.sh [--points 256,1024] [--frames N]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLI_DIR="$ROOT/src/CausalTap.Cli/bin/Release/net10.0"
CLI="$CLI_DIR/causaltap.dll"
BUNDLE="$ROOT/artifacts/gpu-bundle"
POINTS=256,1024
FRAMES=200
while [ $# -gt 0 ]; do
  case "$1" in
    --points) POINTS="$2"; shift ;;
    --frames) FRAMES="$2"; shift ;;
    *) echo "usage: $0 [--points 256,1024] [--frames N]" >&2; exit 2 ;;
  esac
  shift
done
LOG="${OUT:-}"
say() { printf '\n=== %s\n' "$*"; }
status=0

unpack() { # name, target directory
  local parts=("$BUNDLE/$1".tar.zst.part-*)
  [ -e "${parts[0]}" ] || return 1
  (cd "$BUNDLE" && sha256sum -c --quiet --ignore-missing SHA256SUMS) || { echo "gpu-bundle: checksum mismatch" >&2; exit 1; }
  mkdir -p "$2"
  cat "${parts[@]}" | zstd -q -d | tar -C "$2" -xf -
}
if [ ! -f "$CLI_DIR/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so" ] || [ ! -f "$CLI" ]; then
  say "reassembling the CLI (with the CUDA provider library) from ${BUNDLE#$ROOT/}"
  unpack cli "$ROOT" || { echo "no CLI here and no bundle parts: run ./scripts/setup.sh (or gpu-bundle.sh elsewhere)" >&2; exit 1; }
fi
if ! command -v dotnet >/dev/null || ! dotnet --list-runtimes 2>/dev/null | grep -q 'Microsoft.AspNetCore.App 10\.'; then
  if unpack dotnet "$BUNDLE/dotnet"; then
    export DOTNET_ROOT="$BUNDLE/dotnet" PATH="$BUNDLE/dotnet:$PATH"
  else
    echo "no .NET 10 runtime here: bundle one with ./scripts/gpu-bundle.sh --with-dotnet" >&2; exit 1
  fi
fi
export CAUSALTAP_HOME="$ROOT" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
causaltap() { dotnet "$CLI" "$@"; }
step() { # name, command...: runs it, tees to $OUT/<name>.txt when OUT is set
  local name="$1"; shift
  if [ -n "$LOG" ]; then "$@" 2>&1 | tee "$LOG/$name.txt"; return "${PIPESTATUS[0]}"; else "$@"; fi
}

say "GPU"
step nvidia-smi nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || { echo "nvidia-smi failed: no NVIDIA GPU/driver here" >&2; status=1; }

say "causaltap --version"
version="$(causaltap --version 2>&1)"; echo "$version"; [ -n "$LOG" ] && echo "$version" > "$LOG/version.txt"
loads="$(echo "$version" | sed -n 's/^loads here: //p')"
providers=()
for p in cuda tensorrt; do
  if echo ", $loads," | grep -q ", $p,"; then providers+=("$p"); else echo "$p does not load here (see above)"; fi
done
[ ${#providers[@]} -gt 0 ] || { echo "FAILED: neither CUDA nor TensorRT loads" >&2; exit 1; }

for p in "${providers[@]}"; do
  say "parity $p vs cpu (models/causaltap-default)"
  step "parity-$p" /usr/bin/env python3 scripts/gpu_parity.py "$CLI" models/causaltap-default --provider "$p" || status=1
done
for p in "${providers[@]}"; do
  say "causaltap bench --points $POINTS --provider $p"
  step "bench-$p" causaltap bench --points "$POINTS" --provider "$p" --frames "$FRAMES" || status=1
done
say "CPU baseline: causaltap bench --points $POINTS --provider cpu"
step bench-cpu causaltap bench --points "$POINTS" --provider cpu --frames "$FRAMES" || status=1

say "$([ $status -eq 0 ] && echo "GPU CHECK OK" || echo "GPU CHECK FAILED")"
exit $status
