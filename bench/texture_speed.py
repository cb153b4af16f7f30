"""Texture op speed: a 20k-face mesh at 1024^2 on CPU, today's op (a git revision) vs this tree.

Each op runs in its own process (one torch thread) on the same mesh and prompt; the text
encoder is warmed first in both (a server keeps it loaded), then the op call alone is timed,
best of ``--repeat``. The baseline is checked out from git (``--baseline``, default the commit
before per-part materials) into a temporary folder, so both run in the same session.

    nice -n 10 .venv/bin/python bench/texture_speed.py [--faces 20000] [--size 1024] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "89c8767"
PROMPT = "an old oak table"

CHILD = """
import json, sys, time, torch
torch.set_num_threads(1)
from tests import mesh_corpus
from backend.ops import texture
from backend.runtime import CancelToken
from backend.models.text_encoder import sentence_embeddings
sentence_embeddings(["warm up"])
mesh = mesh_corpus.large({faces})
times = []
for _ in range({repeat}):
    start = time.perf_counter()
    out = texture.run({{"mesh": mesh}}, {{"prompt": {prompt!r}, "resolution": {size}}}, lambda *a: None,
                      CancelToken())["mesh"]
    times.append(time.perf_counter() - start)
print(json.dumps({{"seconds": min(times), "faces": mesh.num_faces, "uv": out.info["texture"]["uv"]}}))
"""


def timed(tree: Path, args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    code = CHILD.format(faces=args.faces, repeat=args.repeat, prompt=PROMPT, size=args.size)
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=20000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline", default=BASELINE, help="git revision of today's op")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "archive", args.baseline, "backend", "shared", "tests"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        base = timed(Path(folder), args)
    new = timed(ROOT, args)
    print(f"{'op':<10}{'faces':>7}{'size':>6}{'seconds':>9}  uv")
    print(f"{'baseline':<10}{base['faces']:>7}{args.size:>6}{base['seconds']:>9.2f}  {base['uv']}")
    print(f"{'kiln':<10}{new['faces']:>7}{args.size:>6}{new['seconds']:>9.2f}  {new['uv']}")
    print(f"time kiln / baseline: {new['seconds'] / base['seconds']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
