"""Published models on CUDA in fp16 / bf16 against CPU fp32: output differences and peak VRAM.

Builds tiny TripoSG and Hunyuan3D-2.1 folders with random weights in the publishers' layouts (or
uses real folders given with --folder), loads each on CPU fp32 and on CUDA in fp16 and bf16, and
feeds all the same inputs: the DiT velocity (publisher time units), decode_sdf at random queries
(max abs difference and the share of queries whose inside/outside sign agrees), and a short
seeded sampling run. Peak CUDA memory per load + run is torch.cuda.max_memory_allocated.

    python bench/published_cuda.py                     # tiny random models
    python bench/published_cuda.py --folder /models/TripoSG --folder /models/Hunyuan3D-2.1
    python bench/published_cuda.py --write             # also append the table to bench/RESULTS.md

Needs a CUDA device; without one it checks the CPU path only and exits 2.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.models.published import load_published  # noqa: E402


def inputs(model, seed: int = 0) -> dict:
    """Latents, queries, a condition and a time in the model's own units, on the CPU in fp32."""
    g = torch.Generator().manual_seed(seed)
    if model.family == "triposg":
        shape = (1, 256, model.transformer.config.in_channels)
        cond = torch.randn(1, 16, model.transformer.config.cross_attention_dim, generator=g)
        t = 600.0
    else:
        shape = (1, *model.vae.latent_shape)
        cond = torch.randn(1, 16, model.dit.config.context_dim, generator=g)
        t = 0.4
    return {"latents": torch.randn(shape, generator=g), "queries": torch.rand(1, 4096, 3, generator=g) * 2 - 1,
            "cond": cond, "t": t}


def run(model, data: dict, steps: int) -> dict:
    start = time.perf_counter()
    velocity = model.velocity(data["latents"], data["t"], data["cond"]).float().cpu()
    sdf = model.decode_sdf(data["latents"], data["queries"]).float().cpu()
    settings = model.settings({"steps": steps, "seed": 0, "num_tokens": data["latents"].shape[1]})
    sampled = model.sample_latents(data["cond"], torch.zeros_like(data["cond"]), settings).float().cpu()
    if str(model.device).startswith("cuda"):
        torch.cuda.synchronize()
    return {"velocity": velocity, "sdf": sdf, "sampled": sampled, "seconds": time.perf_counter() - start}


def compare(reference: dict, other: dict) -> dict:
    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
    return {"velocity_rel": rel(other["velocity"], reference["velocity"]),
            "sdf_max_abs": float((other["sdf"] - reference["sdf"]).abs().max()),
            "sign_agree": float(((other["sdf"] < 0) == (reference["sdf"] < 0)).float().mean()),
            "sampled_rel": rel(other["sampled"], reference["sampled"]),
            "speed_vs_cpu": reference["seconds"] / max(other["seconds"], 1e-9)}


def bench(folder: Path, steps: int) -> list[str]:
    cpu = load_published(folder, "cpu")
    data = inputs(cpu)
    reference = run(cpu, data, steps)
    rows = [f"| {folder.name} ({cpu.family}) | cpu fp32 | - | - | - | - | 1.00x | - |"]
    del cpu
    if not torch.cuda.is_available():
        return rows
    for dtype in ("fp16", "bf16"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        model = load_published(folder, "cuda", dtype=dtype)
        result = compare(reference, run(model, data, steps))
        peak = torch.cuda.max_memory_allocated() / 2 ** 20
        rows.append(f"| {folder.name} ({model.family}) | cuda {dtype} | {result['velocity_rel']:.2e} | "
                    f"{result['sdf_max_abs']:.2e} | {100 * result['sign_agree']:.2f}% | {result['sampled_rel']:.2e} | "
                    f"{result['speed_vs_cpu']:.2f}x | {peak:.0f} MiB |")
        del model
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, action="append", help="a published model folder (repeatable)")
    parser.add_argument("--steps", type=int, default=4, help="sampling steps of the seeded run")
    parser.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folders = args.folder
        if not folders:
            from tests.platform_helpers.published import make_hunyuan_folder, make_triposg_folder
            make_triposg_folder(Path(tmp) / "TripoSG-tiny")
            make_hunyuan_folder(Path(tmp) / "Hunyuan3D-2.1-tiny")
            folders = [Path(tmp) / "TripoSG-tiny", Path(tmp) / "Hunyuan3D-2.1-tiny"]
        header = ["| model | run | velocity max rel. diff | decode_sdf max abs diff | sign agreement | "
                  "sampled latents max rel. diff | speed vs CPU fp32 | peak CUDA memory |",
                  "|---|---|---|---|---|---|---|---|"]
        rows = [row for folder in folders for row in bench(folder, args.steps)]
    table = "\n".join(header + rows)
    print(table)
    if not torch.cuda.is_available():
        print("CUDA is not available: only the CPU fp32 path ran", file=sys.stderr)
        return 2
    if args.write:
        name = torch.cuda.get_device_name()
        with open(ROOT / "bench" / "RESULTS.md", "a") as handle:
            handle.write(f"\n## Published models: CUDA fp16/bf16 vs CPU fp32 ({name})\n\n"
                         f"`python bench/published_cuda.py --write`\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
