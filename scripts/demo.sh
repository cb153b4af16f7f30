#!/usr/bin/env bash
# README command 1: set up .venv, start a loopback backend, generate "a wooden chair" through it
# into out/demo.glb with the server's default model (auto: the procedural engine takes a chair),
# then stop the backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
STORE=${KILN_STORE:-out/store}
READY=out/.backend-address
rm -f "$READY"
.venv/bin/python -m backend serve --bind tcp://127.0.0.1:0 --store "$STORE" --ready-file "$READY" \
    >out/backend.log 2>&1 &
BACKEND=$!
trap 'kill -TERM "$BACKEND" 2>/dev/null || true; wait "$BACKEND" 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do
    [ -s "$READY" ] && break
    if ! kill -0 "$BACKEND" 2>/dev/null; then
        echo "backend failed to start:" >&2
        cat out/backend.log >&2
        exit 1
    fi
    sleep 0.1
done
[ -s "$READY" ] || { echo "backend did not start within 120 s; see out/backend.log" >&2; exit 1; }
ADDRESS=$(cat "$READY")
echo "backend listening on $ADDRESS (log: out/backend.log)"
.venv/bin/python -m backend submit --connect "$ADDRESS" generate --prompt "a wooden chair" -o out/demo.glb
echo "Done: $(pwd)/out/demo.glb"
