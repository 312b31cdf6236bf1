#!/usr/bin/env bash
# Regenerate the committed tandem.v1 stubs (messages, gRPC stubs, typed .pyi).
# Policy: stubs are committed; CI runs this script and fails on any diff
# (`bash proto/generate.sh --check`). Needs the `proto` extra (pinned grpcio-tools).
set -euo pipefail
cd "$(dirname "$0")"
out=tandem/v1
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  mkdir -p "$out/tandem/v1"
  python -m grpc_tools.protoc -I . --python_out="$out" --grpc_python_out="$out" \
    --mypy_out=quiet:"$out" --mypy_grpc_out=quiet:"$out" tandem/v1/*.proto
  status=0
  for f in "$out"/tandem/v1/*_pb2*; do
    if ! cmp -s "$f" "tandem/v1/$(basename "$f")"; then
      echo "stale generated stub: proto/tandem/v1/$(basename "$f") (run bash proto/generate.sh)"
      status=1
    fi
  done
  for f in tandem/v1/*_pb2*; do
    [ -e "$out/tandem/v1/$(basename "$f")" ] || { echo "orphan stub: proto/$f"; status=1; }
  done
  exit $status
fi
python -m grpc_tools.protoc -I . --python_out=. --grpc_python_out=. \
  --mypy_out=quiet:. --mypy_grpc_out=quiet:. tandem/v1/*.proto
echo "regenerated proto/tandem/v1 stubs"
