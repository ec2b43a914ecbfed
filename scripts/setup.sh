#!/usr/bin/env bash
# One-time (and safe to re-run) set-up for CausalTap on a fresh Debian 12 machine:
#   1. apt packages the project needs (gRPC peers for tests, protoc, ONNX tooling),
#   2. npm packages used by the tests (grpc-js interop client),
#   3. NuGet restore and build (ONNX Runtime comes from NuGet: Microsoft.ML.OnnxRuntime.Gpu.Linux).
# Each step prints what it does and skips itself when already done. Output goes to stderr so that the
# launcher's own stdout stays clean for the CLI.
set -euo pipefail
exec 3>&1 1>&2

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"   # build stamp and test caches
mkdir -p "$DEPS"

say() { printf '[setup] %s\n' "$*"; }

# Debian packages.
APT_PACKAGES=(
  ca-certificates curl
  # training/ and model tests: Debian's torch 1.13 (CPU), with OpenBLAS (~20x faster matmul than reference BLAS)
  python3 python3-numpy python3-pytest python3-onnx python3-torch libopenblas0-pthread
  # gRPC peers and protoc for the interop tests
  python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc grpc-proto
  # images and video: OpenCvSharp4's official runtime needs GTK 3 (and libdrm, libatomic) at load time;
  # ffmpeg, OpenCV for Python and PIL are independent peers in tests (clip making, decode comparisons)
  libgtk-3-0 libdrm2 libatomic1 ffmpeg python3-opencv python3-pil
)

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
else
  say "apt packages: present"
fi

# npm packages for the tests (grpc-js interop client). Lockfile pins versions; skip when installed.
for pkgdir in "$ROOT"/tests/interop/node "$ROOT"/tests/CausalTap.Episodes.Tests/mcap_reader; do
  if [ -f "$pkgdir/package.json" ]; then
    if [ ! -d "$pkgdir/node_modules" ] || [ "$pkgdir/package-lock.json" -nt "$pkgdir/node_modules" ]; then
      say "npm ci in ${pkgdir#$ROOT/}"
      # npm's own error output stays visible: a failed install must stop set-up, not surface later as test failures.
      (cd "$pkgdir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
      touch "$pkgdir/node_modules"
    else
      say "npm packages in ${pkgdir#$ROOT/}: present"
    fi
  fi
done

# .NET restore + build (incremental: fast when nothing changed).
say "dotnet build (Release)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet build "$ROOT/CausalTap.sln" -c Release -nologo -v:q -clp:ErrorsOnly
say "done"
