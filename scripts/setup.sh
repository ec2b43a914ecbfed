#!/usr/bin/env bash
# One-time (and safe to re-run) set-up for CausalTap on a fresh Debian 12 machine:
#   1. apt packages the project needs (gRPC peers for tests, protoc, ONNX tooling, Vulkan/Mesa for WebGPU),
#   2. the ONNX Runtime native library 1.30.0 from the npm package onnxruntime-node (sha256-pinned),
#   3. npm packages used by the tests (grpc-js interop client),
#   4. NuGet restore and build.
# Each step prints what it does and skips itself when already done. Output goes to stderr so that the
# launcher's own stdout stays clean for the CLI.
set -euo pipefail
exec 3>&1 1>&2

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
ORT_VERSION=1.30.0
ORT_TGZ_SHA256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
ORT_LIB_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ORT_DIR="$DEPS/onnxruntime-$ORT_VERSION"

say() { printf '[setup] %s\n' "$*"; }

# Debian packages. mesa-vulkan-drivers comes from bookworm-backports: Dawn (ORT's WebGPU provider)
# rejects Debian 12's Mesa 22; lavapipe from Mesa 25 lets tests run the WebGPU path on the CPU.
APT_PACKAGES=(
  ca-certificates curl
  # training/ and model tests: Debian's torch 1.13 (CPU), with OpenBLAS (~20x faster matmul than reference BLAS)
  python3 python3-numpy python3-pytest python3-onnx python3-torch libopenblas0-pthread
  # gRPC peers and protoc for the interop tests
  python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc grpc-proto
  # images and video: JPEG decode, ffmpeg for video files, OpenCV/PIL as independent peers in tests
  libturbojpeg0 ffmpeg python3-opencv python3-pil
  libvulkan1
)
BACKPORTS_PACKAGES=(mesa-vulkan-drivers)

need_apt=()
for p in "${APT_PACKAGES[@]}" "${BACKPORTS_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
mesa_ok() { dpkg --compare-versions "$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)" ge 25; }
if [ ${#need_apt[@]} -gt 0 ] || ! mesa_ok; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding the bookworm-backports apt source (for Mesa >= 25)"
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  fi
  say "apt-get install ${need_apt[*]:-mesa-vulkan-drivers (upgrade to backports)}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports "${BACKPORTS_PACKAGES[@]}" >/dev/null
else
  say "apt packages: present"
fi

# ONNX Runtime native library, taken from the npm package (the NuGet copy here has no ORT package).
if [ -f "$ORT_DIR/libonnxruntime.so.1" ] && echo "$ORT_LIB_SHA256  $ORT_DIR/libonnxruntime.so.1" | sha256sum -c --status; then
  say "onnxruntime $ORT_VERSION: present in ${ORT_DIR#$ROOT/}"
else
  say "fetching onnxruntime-node@$ORT_VERSION from npm for libonnxruntime.so.1"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null 2>&1)
  echo "$ORT_TGZ_SHA256  $tmp/onnxruntime-node-$ORT_VERSION.tgz" | sha256sum -c --status \
    || { say "sha256 mismatch for onnxruntime-node-$ORT_VERSION.tgz"; exit 1; }
  tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  mkdir -p "$ORT_DIR"
  mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_DIR/"
  rm -rf "$tmp"
  echo "$ORT_LIB_SHA256  $ORT_DIR/libonnxruntime.so.1" | sha256sum -c --status \
    || { say "sha256 mismatch for libonnxruntime.so.1"; exit 1; }
fi
ln -sfn "onnxruntime-$ORT_VERSION" "$DEPS/onnxruntime"

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
