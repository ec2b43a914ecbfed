#!/usr/bin/env bash
# Packs what a GPU machine without network needs into compressed parts of at most PART_MB (default 48) MiB each,
# in artifacts/gpu-bundle/ (ignored by git), for a device that takes at most 64 MiB per upload:
#   cli.tar.zst.part-NN      the built CLI folder src/CausalTap.Cli/bin/Release/net10.0, with the ~277 MB CUDA
#                            provider library of Microsoft.ML.OnnxRuntime.Gpu.Linux (compresses to ~40 %)
#   dotnet.tar.zst.part-NN   with --with-dotnet: the .NET runtimes (shared/ + host/ + dotnet) of this machine,
#                            for a GPU machine that has no .NET 10
#   SHA256SUMS               checksums of every part
# Send the parts over several calls (each call carries one or two parts plus the working tree; ignored build
# outputs stay on a warm machine), then scripts/gpu-check.sh checks the sums, reassembles and unpacks them.
#   ./scripts/gpu-bundle.sh [--with-dotnet] [--part-mb N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/artifacts/gpu-bundle"
CLI_DIR="src/CausalTap.Cli/bin/Release/net10.0"
PART_MB=48
WITH_DOTNET=0
while [ $# -gt 0 ]; do
  case "$1" in
    --with-dotnet) WITH_DOTNET=1 ;;
    --part-mb) PART_MB="$2"; shift ;;
    *) echo "usage: $0 [--with-dotnet] [--part-mb N]" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$ROOT/$CLI_DIR/causaltap.dll" ] || { echo "no built CLI in $CLI_DIR: run ./scripts/setup.sh first" >&2; exit 1; }
[ -f "$ROOT/$CLI_DIR/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so" ] \
  || { echo "the CLI folder has no CUDA provider library (built with CopyOnnxRuntimeGpuProviders=false?)" >&2; exit 1; }
command -v zstd >/dev/null || { echo "zstd is needed (apt-get install zstd)" >&2; exit 1; }

rm -rf "$OUT"; mkdir -p "$OUT"
pack() { # name, directory to run tar in, paths...
  local name="$1" dir="$2"; shift 2
  tar -C "$dir" -cf - "$@" | zstd -q -T0 -10 | split -b "${PART_MB}M" -d -a 2 - "$OUT/$name.tar.zst.part-"
}
pack cli "$ROOT" "$CLI_DIR"
if [ "$WITH_DOTNET" = 1 ]; then
  DOTNET_ROOT_DIR="$(dirname "$(readlink -f "$(command -v dotnet)")")"
  pack dotnet "$DOTNET_ROOT_DIR" dotnet host shared
fi
(cd "$OUT" && sha256sum -- *.part-* > SHA256SUMS)
echo "parts in ${OUT#$ROOT/}:"
ls -l "$OUT" | awk 'NR > 1 { printf "  %-28s %6.1f MiB\n", $9, $5 / 1048576 }'
