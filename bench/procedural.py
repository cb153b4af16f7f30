"""Procedural engine timings, each as a ratio against a baseline measured in the same run.

Times are process CPU seconds (time.process_time), so other work on a shared machine does not
inflate them; the dataset comparison is wall clock, since it measures parallelism.

    python bench/procedural.py [--quick]

1. generate: the `procedural` model's per-prompt time (model load excluded) vs meshing the same
   asset's SDF with marching cubes at 128^3 (what an SDF-only generator would have to do).
2. dataset: samples/s with 2 worker processes vs 1.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.runtime import CancelToken  # noqa: E402
from backend.procedural.dataset import write_dataset  # noqa: E402
from backend.procedural.meshing import watertight_mesh  # noqa: E402
from backend.procedural.model import ProceduralModel  # noqa: E402
from backend.procedural.registry import categories, generate  # noqa: E402
from backend.procedural.sample import SampleConfig  # noqa: E402

PROMPTS = ["a wooden chair", "a red metal stool", "glass bottle", "a tall bookcase full of books", "a park bench",
           "a palm tree", "a small cottage", "a knight's round shield", "an iron railing", "a coffee mug"]


def bench_generate(quick: bool) -> None:
    t = time.process_time()
    model = ProceduralModel("cpu")
    load = time.process_time() - t
    gen, mc = [], []
    for i, prompt in enumerate(PROMPTS[:4] if quick else PROMPTS):
        t = time.process_time()
        mesh = model.generate(prompt, None, {"seed": i}, lambda *a: None, CancelToken())
        gen.append(time.process_time() - t)
        asset = generate(mesh.info["category"], i)
        t = time.process_time()
        watertight_mesh(asset, 128)
        mc.append(time.process_time() - t)
    g, m = statistics.median(gen), statistics.median(mc)
    print(f"generate: median {g * 1000:.0f} ms CPU per prompt (max {max(gen) * 1000:.0f} ms; model load {load:.1f} s); "
          f"marching cubes 128^3 of the same assets {m * 1000:.0f} ms -> {m / g:.1f}x faster")


def bench_dataset(quick: bool) -> None:
    config = SampleConfig(surface=2048, near=2048, far=1024, resolution=64, glb=False)
    count = 8 if quick else 16
    names = list(categories())
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            m = write_dataset(Path(tmp) / f"w{workers}", count, seed=0, workers=workers, samples_per_shard=2,
                              categories=names, config=config)
            rates[workers] = count / m["seconds"]  # wall clock, measured by write_dataset
    print(f"dataset (resolution 64, {count} samples): 1 worker {rates[1]:.2f} samples/s, 2 workers "
          f"{rates[2]:.2f} samples/s -> {rates[2] / rates[1]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    bench_generate(args.quick)
    bench_dataset(args.quick)


if __name__ == "__main__":
    main()
