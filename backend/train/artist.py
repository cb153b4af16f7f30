"""Train the artist mesh transformer (resumable; one process, CPU or one GPU).

    python -m backend.train.artist --out /work/runs/artist --minutes 90 [--games]

Data: procedural artist meshes (fresh seeds, cached and reused with augmentation) and, with
``--games``, the training split of the 0 A.D. and SuperTuxKart meshes (``backend.datasets``;
the held-out split is never read here; every 50th training-split mesh is kept for validation). ``RUN/last.*`` is resumed when present; ``RUN/best.*``
keeps the weights with the lowest held-out loss; ``--export STEM`` writes them as an embedded model.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from backend.models.artist_mesh import ArtistConfig, ArtistMeshModel
from backend.models.checkpoint import module_tensors, read_config, read_tensors, save_checkpoint
from backend.models.mesh_tokens import PAD
from backend.train.artist_data import game_meshes as game_triangle_meshes
from backend.train.artist_data import make_example, procedural_mesh, quads_from_triangles
from backend.train.loop import Clock, RunFolder, learning_rate

log = logging.getLogger("artist")
VAL_SEED = 10_000_000  # procedural validation seeds start here; training seeds stay below


def game_meshes(split: str, limit_faces: int, cache: Path | None = None
                ) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, positions, face sizes, face indices) of the game meshes in ``split`` ('train' or
    'held_out') with at most ``limit_faces`` faces after quads are recovered; read from / written
    to ``cache`` (a safetensors file) when given."""
    if cache is not None and cache.is_file():
        return _read_games(cache)
    out = []
    for name, positions, triangles in game_triangle_meshes(split, 2 * limit_faces,
                                                           lambda k, n: log.info("reading %s meshes %d/%d", split, k, n)):
        sizes, indices = quads_from_triangles(positions, triangles)
        if len(sizes) <= limit_faces:
            out.append((name, positions, sizes, indices))
    if cache is not None:
        _write_games(cache, out)
    return out


def _write_games(path: Path, meshes: list) -> None:
    from safetensors.numpy import save_file

    tensors = {}
    for k, name in enumerate(("positions", "sizes", "indices")):
        parts = [m[k + 1] for m in meshes]
        tensors[name] = np.concatenate(parts).astype(np.float64 if k == 0 else np.int64)
        tensors[f"{name}.offsets"] = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"names": json.dumps([m[0] for m in meshes])})


def _read_games(path: Path) -> list:
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        names = json.loads(handle.metadata()["names"])
        arrays = {k: handle.get_tensor(k) for k in handle.keys()}
    out = []
    for m, name in enumerate(names):
        parts = [arrays[key][arrays[f"{key}.offsets"][m]:arrays[f"{key}.offsets"][m + 1]]
                 for key in ("positions", "sizes", "indices")]
        out.append((name, *parts))
    return out


class Pool:
    """Training meshes: a growing cache of procedural meshes plus the game meshes, all with at
    most ``limit`` faces (procedural seeds over it are skipped)."""

    def __init__(self, games: list, procedural_share: float, cache: int, limit: int = 1 << 30):
        self.games = [g for g in games if len(g[2]) <= limit]
        self.procedural_share = procedural_share if self.games else 1.0
        self.cache: list = []
        self.cache_size = cache
        self.next_seed = 0
        self.limit = limit

    def draw(self, rng: np.random.Generator):
        if rng.random() >= self.procedural_share:
            _, p, s, i = self.games[int(rng.integers(len(self.games)))]
            return p, s, i
        if len(self.cache) < self.cache_size:
            mesh = procedural_mesh(self.next_seed)
            self.next_seed += 1
            while len(mesh[1]) > self.limit:
                mesh = procedural_mesh(self.next_seed)
                self.next_seed += 1
            self.cache.append(mesh)
            return mesh
        return self.cache[int(rng.integers(len(self.cache)))]


def batch(examples: list[dict]) -> tuple[torch.Tensor, ...]:
    length = max(len(e["tokens"]) for e in examples)
    tokens = torch.full((len(examples), length), PAD, dtype=torch.long)
    for row, e in enumerate(examples):
        tokens[row, :len(e["tokens"])] = torch.from_numpy(e["tokens"])
    return (torch.from_numpy(np.stack([e["points"] for e in examples])),
            torch.tensor([e["count"] for e in examples]), tokens,
            torch.tensor([len(e["tokens"]) for e in examples]))


def draw_batch(pool: Pool, cfg: ArtistConfig, rng: np.random.Generator, size: int, token_budget: int) -> list[dict]:
    """Up to ``size`` examples, stopping early once the padded batch would pass ``token_budget``."""
    out: list[dict] = []
    while len(out) < size:
        example = make_example(*pool.draw(rng), cfg, rng)
        if example is None:
            continue
        longest = max([len(e["tokens"]) for e in out] + [len(example["tokens"])])
        if out and longest * (len(out) + 1) > token_budget:
            break
        out.append(example)
    return out


def validation_set(cfg: ArtistConfig, games: list, count: int, limit: int = 1 << 30) -> list[dict]:
    """``count`` procedural meshes of validation seeds and up to ``count`` of ``games``, all with
    at most ``limit`` faces."""
    rng = np.random.default_rng(1)
    out, seed = [], VAL_SEED
    while len(out) < count:
        mesh = procedural_mesh(seed)
        seed += 1
        example = make_example(*mesh, cfg, rng, augmented=False) if len(mesh[1]) <= limit else None
        if example is not None:
            out.append(example)
    for _, p, s, i in [g for g in games if len(g[2]) <= limit][:count]:
        example = make_example(p, s, i, cfg, rng, augmented=False)
        if example is not None:
            out.append(example)
    return out


@torch.no_grad()
def validate(model: ArtistMeshModel, examples: list[dict]) -> float:
    model.eval()
    total, weight = 0.0, 0
    for k in range(0, len(examples), 4):
        chunk = examples[k:k + 4]
        n = sum(len(e["tokens"]) - 1 for e in chunk)
        total += float(model.loss(*batch(chunk))) * n
        weight += n
    model.train()
    return total / weight


LICENSE = ("CC-BY-SA-4.0 (weights learned from CC-BY-SA 0 A.D. and SuperTuxKart art; attribution in the "
           "model card)")


def export(run: Path, stem: Path, card_facts: dict | None = None) -> None:
    """Write ``run/best`` as an embedded model ``stem.safetensors`` + ``stem.json`` (model tensors only)."""
    config = read_config(run / "best")
    tensors = read_tensors(run / "best.safetensors")
    keep = {k: v for k, v in tensors.items() if not k.startswith(("optim.", "rng."))}
    save_checkpoint(stem, keep, {**ArtistConfig.from_json(config).to_json(),
                                 "trained": {k: config[k] for k in ("step", "val_loss", "seconds", "data")
                                             if k in config},
                                 "license": LICENSE if config.get("data", {}).get("games") else "GPL-3.0-or-later",
                                 **(card_facts or {})})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=90.0, help="wall time of this session (resumes add to it)")
    ap.add_argument("--steps", type=int, default=20000, help="schedule length (cosine decay to this step)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--token-budget", type=int, default=2400, help="padded tokens per batch at most")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--points", type=int, default=512)
    ap.add_argument("--latents", type=int, default=24)
    ap.add_argument("--max-faces", type=int, default=400)
    ap.add_argument("--train-max-faces", type=int, default=0,
                    help="train and validate only on meshes with at most this many faces (0: up to --max-faces)")
    ap.add_argument("--games", action="store_true", help="add the game meshes' training split")
    ap.add_argument("--procedural-share", type=float, default=0.5)
    ap.add_argument("--cache", type=int, default=4000, help="procedural meshes kept for reuse")
    ap.add_argument("--checkpoint-minutes", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--export", type=Path, help="only export RUN/best to this stem and exit")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.export:
        export(args.out, args.export)
        return
    torch.set_num_threads(args.threads)
    cfg = ArtistConfig(dim=args.dim, layers=args.layers, heads=args.heads, points=args.points,
                       latents=args.latents, max_faces=args.max_faces)
    run = RunFolder(args.out, cfg.to_json())
    if run.has_state():  # sizes come from the saved run
        cfg = ArtistConfig.from_json(read_config(args.out / "last"))
        run.model_config = cfg.to_json()
    model = ArtistMeshModel(cfg).to(args.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    rng = np.random.default_rng(0)
    step, best, seconds = 0, float("inf"), 0.0
    games = game_meshes("train", cfg.max_faces, args.out / "games-train.safetensors") if args.games else []
    log.info("%d game meshes in the training split; %d parameters", len(games),
             sum(p.numel() for p in model.parameters()))
    data = {"procedural": True, "games": len(games)}
    limit = args.train_max_faces or cfg.max_faces
    if args.train_max_faces:
        data["max_faces"] = limit  # a new validation set: the best loss starts again
    if run.has_state():
        step, saved = run.load_state(model, optimizer, rng)
        seconds = saved.get("seconds", 0.0)
        # a best loss measured on another validation set does not compare: start a new best
        best = saved.get("best_val", best) if saved.get("data") == data else float("inf")
        log.info("resumed at step %d (%.0f s trained)", step, seconds)
    # validation: every 50th training-split game mesh is kept out of training (the held-out split is
    # left for bench/artist.py alone), plus procedural seeds the pool never draws
    val_games = games[::50]
    pool = Pool([g for k, g in enumerate(games) if k % 50], args.procedural_share, args.cache, limit)
    val = validation_set(cfg, val_games, 16, limit)
    clock, deadline = Clock(args.checkpoint_minutes), time.perf_counter() + args.minutes * 60
    began, window = time.perf_counter(), []

    def checkpoint() -> None:
        nonlocal best
        val_loss = validate(model, val)
        now = seconds + time.perf_counter() - began
        run.log({"step": step, "train": float(np.mean(window)) if window else "", "val": val_loss,
                 "lr": optimizer.param_groups[0]["lr"], "seconds": round(now)})
        if val_loss < best:
            best = val_loss
            run.save_best(module_tensors({"": model}), {**cfg.to_json(), "step": step, "val_loss": val_loss,
                                                        "seconds": round(now), "data": data})
        run.save_state(model, optimizer, step, rng, extra={"best_val": best, "seconds": now, "data": data})
        log.info("step %d train %.4f val %.4f (best %.4f) %.0f s", step, np.mean(window) if window else -1,
                 val_loss, best, now)
        window.clear()

    model.train()
    while time.perf_counter() < deadline:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr, 200)
        examples = draw_batch(pool, cfg, rng, args.batch, args.token_budget)
        loss = model.loss(*(t.to(args.device) for t in batch(examples)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        window.append(loss.item())
        if step % 20 == 0:
            log.info("step %d loss %.4f", step, float(np.mean(window[-20:])))
        if clock.due():
            checkpoint()
    checkpoint()
    (args.out / "done.json").write_text(json.dumps({"step": step, "best_val": best}))


if __name__ == "__main__":
    main()
