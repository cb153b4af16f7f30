"""How well the artist model fits its data: teacher-forced accuracy and greedy reproduction.

    .venv/bin/python bench/artist_fit.py [--weights STEM] [--count 60] [--reproduce 12] [--json out.json]

Teacher-forced (the true tokens fed in, no augmentation): next-token loss and accuracy per token
kind (face / block / offset tokens) and per face-count range of the mesh, on game meshes of the
training split (the pool the model draws from), every 50th of them (the validation meshes kept
out of training) and the held-out split (never trained on). Greedy reproduction: the model
decodes (grammar mask only, temperature 0) from a training mesh's own points and face count;
reported: the share of the true faces it writes exactly (same grid cells) and the share of its
faces that are true ones. Says whether the model underfits (cannot reproduce what it trained on)
or fails to generalise (reproduces training meshes, not held-out ones).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import torch  # noqa: E402

from backend.models.kiln_artist import WEIGHTS_DIR, EMBEDDED_NAME, load_artist  # noqa: E402
from backend.models.mesh_tokens import canonical_faces, normalization, quantize_mesh  # noqa: E402
from backend.train.artist import batch, game_meshes  # noqa: E402
from backend.train.artist_data import make_example  # noqa: E402

RANGES = ((1, 50), (51, 150), (151, 400))  # face-count ranges of the (quantised) meshes


def kind_of(tokens: torch.Tensor, spec) -> torch.Tensor:
    """0 face/EOS token, 1 block token, 2 offset token."""
    kind = torch.zeros_like(tokens)
    kind[(tokens >= spec.offset_base) & (tokens < spec.block_base)] = 2
    kind[tokens >= spec.block_base] = 1
    return kind


@torch.no_grad()
def teacher_forced(model, examples: list[dict]) -> dict:
    """Per face range and token kind: [tokens, summed loss, correct]."""
    spec = model.cfg.spec
    stats = {r: np.zeros((3, 3)) for r in RANGES}
    for e in examples:
        points, counts, tokens, lengths = batch([e])
        logits = model(points, counts, tokens[:, :-1])[0]
        target = tokens[0, 1:]
        loss = torch.nn.functional.cross_entropy(logits, target, reduction="none")
        right = logits.argmax(-1) == target
        kinds = kind_of(target, spec)
        rng = next(r for r in RANGES if r[0] <= e["faces"] <= r[1])
        for k in range(3):
            pick = kinds == k
            stats[rng][k] += (int(pick.sum()), float(loss[pick].sum()), int(right[pick].sum()))
    return stats


def summary(stats: dict) -> dict:
    out = {}
    for (lo, hi), s in stats.items():
        total = s.sum(0)
        if total[0] == 0:
            continue
        row = {"tokens": int(total[0]), "loss": total[1] / total[0], "accuracy": total[2] / total[0]}
        for k, name in enumerate(("face", "block", "offset")):
            if s[k, 0]:
                row[f"{name}_accuracy"] = s[k, 2] / s[k, 0]
        out[f"{lo}-{hi}"] = row
    return out


@torch.no_grad()
def reproduce(model, mesh, rng: np.random.Generator) -> dict:
    """Greedy decoding from the mesh's own points: exact-face recall and precision."""
    _, p, s, i = mesh
    cfg = model.cfg
    example = make_example(p, s, i, cfg, rng, augmented=False)
    truth = canonical_faces(quantize_mesh(p, s, i, cfg.levels, normalization(p)))
    reader, tokens = model.generate(torch.from_numpy(example["points"])[None], example["faces"])
    made = canonical_faces(reader.mesh(cfg.levels))
    common = len(truth & made)
    return {"faces": len(truth), "written": len(made), "recall": common / max(len(truth), 1),
            "precision": common / max(len(made), 1), "ended": bool(reader.done)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=WEIGHTS_DIR / EMBEDDED_NAME)
    ap.add_argument("--games", type=Path, default=None, help="games-train.safetensors cache of a run")
    ap.add_argument("--held-out-cache", type=Path, default=None, help="where to cache the held-out split")
    ap.add_argument("--count", type=int, default=60, help="meshes per set for the teacher-forced numbers")
    ap.add_argument("--reproduce", type=int, default=12, help="small training meshes decoded greedily")
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_artist(args.weights).model.eval()
    cfg = model.cfg
    train = game_meshes("train", cfg.max_faces, args.games)
    held = game_meshes("held_out", cfg.max_faces, args.held_out_cache)
    rng = np.random.default_rng(0)
    pool = [g for k, g in enumerate(train) if k % 50]
    sets = {"train": [pool[k] for k in rng.choice(len(pool), args.count, replace=False)],
            "validation": train[::50][:args.count],
            "held_out": [held[k] for k in rng.choice(len(held), min(args.count, len(held)), replace=False)]}
    report = {"weights": str(args.weights)}
    for name, meshes in sets.items():
        examples = [e for e in (make_example(p, s, i, cfg, rng, augmented=False) for _, p, s, i in meshes) if e]
        report[name] = summary(teacher_forced(model, examples))
        for rng_name, row in report[name].items():
            print(f"{name:10s} faces {rng_name:8s} tokens {row['tokens']:6d} loss {row['loss']:.3f} "
                  f"acc {row['accuracy']:.3f} (face {row.get('face_accuracy', 0):.3f} block "
                  f"{row.get('block_accuracy', 0):.3f} offset {row.get('offset_accuracy', 0):.3f})", flush=True)
    small = [m for m in pool if len(m[2]) <= 40]
    picks = [small[k] for k in rng.choice(len(small), min(args.reproduce, len(small)), replace=False)]
    rows = []
    for mesh in picks:
        row = {"mesh": mesh[0], **reproduce(model, mesh, rng)}
        rows.append(row)
        print(f"reproduce {mesh[0][-36:]:36s} faces {row['faces']:3d} written {row['written']:3d} "
              f"recall {row['recall']:.2f} precision {row['precision']:.2f}", flush=True)
    if rows:
        print(f"reproduction of {len(rows)} small training meshes: recall {np.mean([r['recall'] for r in rows]):.2f}, "
              f"precision {np.mean([r['precision'] for r in rows]):.2f}")
    report["reproduce"] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
