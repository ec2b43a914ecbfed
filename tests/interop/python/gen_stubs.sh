#!/usr/bin/env bash
# Generates Python protobuf + gRPC stubs for grpc.testing.TestService into OUT_DIR (default: ./_stubs).
#
# Sources: Debian's grpc-proto package (/usr/share/grpc-proto/grpc/testing/{empty,messages,test}.proto),
# compiled with Debian's /usr/bin/protoc (3.21) and /usr/bin/grpc_python_plugin.
#
# The protos live under "grpc/testing/", which would make the generated modules "grpc.testing.*" and
# collide with the grpcio package itself. So the three files are staged under "ct_grpc_testing/" and
# their import lines rewritten; the protobuf package (grpc.testing) and therefore every RPC path on the
# wire are unchanged. Generated modules: ct_grpc_testing.{empty,messages,test}_pb2 and test_pb2_grpc.
set -euo pipefail

OUT_DIR="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_stubs}"
PROTO_SRC="${GRPC_PROTO_ROOT:-/usr/share/grpc-proto}/grpc/testing"
PROTOC="${PROTOC:-/usr/bin/protoc}"
PLUGIN="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"
PKG=ct_grpc_testing

for f in "$PROTO_SRC/empty.proto" "$PROTO_SRC/messages.proto" "$PROTO_SRC/test.proto" "$PROTOC" "$PLUGIN"; do
  [ -e "$f" ] || { echo "gen_stubs.sh: missing $f (run scripts/setup.sh: packages grpc-proto, protobuf-compiler, protobuf-compiler-grpc)" >&2; exit 2; }
done

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$PKG" "$OUT_DIR"
for name in empty messages test; do
  sed -e "s#^import \"grpc/testing/\([a-z_]*\.proto\)\";#import \"$PKG/\1\";#" \
    "$PROTO_SRC/$name.proto" > "$stage/$PKG/$name.proto"
done

"$PROTOC" -I"$stage" \
  --python_out="$OUT_DIR" \
  --grpc_python_out="$OUT_DIR" \
  --plugin=protoc-gen-grpc_python="$PLUGIN" \
  "$stage/$PKG/empty.proto" "$stage/$PKG/messages.proto" "$stage/$PKG/test.proto"
touch "$OUT_DIR/$PKG/__init__.py"
echo "$OUT_DIR"
