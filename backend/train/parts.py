"""Train ``kiln-parts-s`` on procedural assets made to look like user meshes (resumable, one thread).

One process does everything so a shared machine runs one job: it writes training samples
(``parts_data.make_part_sample``) into ``OUT/data`` while it trains, a new one every
``--make-every`` steps until ``--pool`` exist, and learns from the pool so far. Validation
samples (``OUT/val``, asset seeds 500.. of the held-out range, never trained on) score every
checkpoint; the best one is kept as ``OUT/best``. The learning rate follows a cosine over the
time budget, so a resumed run continues the same schedule.

    OMP_NUM_THREADS=1 nice -n 10 python -m backend.train.parts --out /work/runs/parts --minutes 80
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from backend.models.checkpoint import save_checkpoint
from backend.models.parts_net import PartsNet, PartsNetConfig, contrastive_loss

from .parts_data import load_sample, make_part_sample, normalise, save_sample, train_seed, vocabulary

VAL_SEED = 500
NAME_WEIGHT = 0.5


def _vocab(out: Path) -> list[str]:
    path = out / "vocabulary.json"
    if not path.exists():
        path.write_text(json.dumps(vocabulary()))
    return json.loads(path.read_text())


def _categories() -> list[str]:
    from backend.procedural.registry import categories

    return list(categories())


def make_validation(out: Path, vocab: list[str], per_category: int = 1) -> list[dict]:
    folder = out / "val"
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i, category in enumerate(_categories()):
        for j in range(per_category):
            path = folder / f"{category}-{j}.npz"
            if not path.exists():
                save_sample(path, make_part_sample(category, VAL_SEED + j, vocab, points=2048))
            samples.append(load_sample(path))
    return samples


def augment(sample: dict, points: int, rng) -> tuple[np.ndarray, ...]:
    """A random subset of the sample's points, turned about z (and maybe mirrored), renormalised."""
    pick = rng.choice(len(sample["points"]), size=min(points, len(sample["points"])), replace=False)
    angle = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float32)
    if rng.random() < 0.5:
        turn = turn @ np.diag([-1.0, 1.0, 1.0]).astype(np.float32)
    p = sample["points"][pick] @ turn.T
    n = sample["normals"][pick] @ turn.T
    p, _, _ = normalise(p)
    return p, n.astype(np.float32), sample["instance"][pick].astype(np.int64), sample["name"][pick].astype(np.int64)


def batch(samples: list[dict], points: int, rng) -> tuple[torch.Tensor, ...]:
    cols = list(zip(*(augment(s, points, rng) for s in samples)))
    return tuple(torch.from_numpy(np.stack(c)) for c in cols)


@torch.no_grad()
def evaluate(model: PartsNet, val: list[dict]) -> dict:
    """Validation loss and per-point name accuracy (all points, fixed order)."""
    model.eval()
    total, right, count = 0.0, 0, 0
    for s in val:
        p, n = torch.from_numpy(s["points"])[None], torch.from_numpy(s["normals"])[None]
        feats, logits = model(p, n)
        inst = torch.from_numpy(s["instance"].astype(np.int64))[None]
        name = torch.from_numpy(s["name"].astype(np.int64))[None]
        torch.manual_seed(0)
        total += float(contrastive_loss(feats, inst) + NAME_WEIGHT * F.cross_entropy(logits[0], name[0]))
        right += int((logits[0].argmax(-1) == name[0]).sum())
        count += len(name[0])
    model.train()
    return {"loss": total / len(val), "name_accuracy": right / max(count, 1)}


def _opt_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    state = opt.state_dict()["state"]
    return {f"opt.{i}.{k}": v for i, s in state.items() for k, v in s.items() if torch.is_tensor(v) and v.dim() > 0}


def _load_opt(opt: torch.optim.Optimizer, tensors: dict, step: int) -> None:
    sd = opt.state_dict()
    for i in range(len(sd["param_groups"][0]["params"])):
        if f"opt.{i}.exp_avg" in tensors:
            sd["state"][i] = {"step": torch.tensor(float(step)), "exp_avg": tensors[f"opt.{i}.exp_avg"],
                              "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"]}
    opt.load_state_dict(sd)


def export(out: Path, stem: Path) -> None:
    """``out/best`` as a registry checkpoint ``stem.safetensors`` + ``stem.json`` (model tensors only)."""
    from safetensors.torch import load_file

    record = json.loads((out / "best.json").read_text())
    tensors = {k: v for k, v in load_file(str(out / "best.safetensors")).items() if k.startswith("model.")}
    record["description"] = ("point network (edge convolutions): contrastive part-grouping features + "
                             f"{len(record['model']['vocabulary'])} part names, trained on Kiln's procedural assets")
    save_checkpoint(stem, tensors, record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=80.0, help="total training time budget (all resumes)")
    parser.add_argument("--pool", type=int, default=600, help="training samples to make in all")
    parser.add_argument("--start-pool", type=int, default=56, help="samples made before the first step")
    parser.add_argument("--make-every", type=int, default=4, help="steps between two new samples")
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--save-minutes", type=float, default=4.0)
    parser.add_argument("--widths", default="48,48,96,96")
    parser.add_argument("--neighbours", type=int, default=12)
    parser.add_argument("--export", type=Path, default=None,
                        help="write OUT/best as this checkpoint stem (e.g. backend/weights/kiln-parts-s) and stop")
    args = parser.parse_args(argv)
    if args.export:
        export(args.out, args.export)
        return 0
    torch.set_num_threads(1)
    out = args.out
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    vocab = _vocab(out)
    cats = _categories()
    state_path = out / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"step": 0, "seconds": 0.0, "best": None}
    config = PartsNetConfig(widths=tuple(int(w) for w in args.widths.split(",")), neighbours=args.neighbours,
                            vocabulary=vocab)
    if (out / "last.json").exists():
        config = PartsNetConfig.from_json(json.loads((out / "last.json").read_text())["model"])
    model = PartsNet(config)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    if (out / "last.safetensors").exists():
        from safetensors.torch import load_file
        tensors = load_file(str(out / "last.safetensors"))
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        _load_opt(opt, tensors, state["step"])
        print(f"resumed at step {state['step']} ({state['seconds'] / 60:.1f} min)", flush=True)

    def pool_paths():
        return sorted(data.glob("[0-9]*.npz"))

    def make(index):
        category = cats[index % len(cats)]
        save_sample(data / f"{index:06d}.npz", make_part_sample(category, train_seed(index), vocab))

    while len(pool_paths()) < args.start_pool:
        make(len(pool_paths()))
    val = make_validation(out, vocab)
    print(f"{len(pool_paths())} training samples, {len(val)} validation, {len(vocab)} names, "
          f"{sum(p.numel() for p in model.parameters())} parameters", flush=True)
    cache: dict[Path, dict] = {}
    rng = np.random.default_rng(state["step"])
    budget = args.minutes * 60
    began, last_save = time.perf_counter() - state["seconds"], time.perf_counter()
    losses = []

    def checkpoint():
        state["seconds"] = time.perf_counter() - began
        scores = evaluate(model, val)
        record = {"format": "kiln-parts", "model": config.to_json(), "step": state["step"],
                  "seconds": round(state["seconds"]), "samples": len(pool_paths()), **scores}
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        save_checkpoint(out / "last", {**tensors, **_opt_tensors(opt)}, record)
        if state["best"] is None or scores["loss"] < state["best"]["loss"]:
            state["best"] = record
            save_checkpoint(out / "best", tensors, record)
        state_path.write_text(json.dumps(state, indent=1))
        print(f"step {state['step']} {state['seconds'] / 60:.1f} min train {np.mean(losses[-50:]):.3f} "
              f"val {scores['loss']:.3f} names {scores['name_accuracy']:.3f} pool {len(pool_paths())}", flush=True)

    while time.perf_counter() - began < budget:
        paths = pool_paths()
        if len(paths) < args.pool and state["step"] % args.make_every == 0:
            make(len(paths))
            paths = pool_paths()
        chosen = [paths[i] for i in rng.choice(len(paths), size=args.batch, replace=len(paths) < args.batch)]
        samples = [cache.setdefault(p, load_sample(p)) for p in chosen]
        p, n, inst, name = batch(samples, args.points, rng)
        progress = (time.perf_counter() - began) / budget
        lr = args.lr * min(1.0, (state["step"] + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        for group in opt.param_groups:
            group["lr"] = lr
        feats, logits = model(p, n)
        loss = contrastive_loss(feats, inst) + NAME_WEIGHT * F.cross_entropy(logits.reshape(-1, len(vocab)),
                                                                               name.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        state["step"] += 1
        if time.perf_counter() - last_save > args.save_minutes * 60:
            checkpoint()
            last_save = time.perf_counter()
    checkpoint()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
