"""What every training run shares: distributed setup, resumable checkpoints, LR schedule, loss logs.

One entry point for one process or many: under ``torchrun`` (``WORLD_SIZE`` > 1) the model is
wrapped in DistributedDataParallel (NCCL on GPUs, Gloo on CPU), each rank draws its own batches,
and rank 0 alone writes files. A run folder holds:

    last.safetensors + last.json   model + AdamW state + RNG: resume from here (atomic writes)
    best.safetensors + best.json   model weights with the lowest held-out loss, and their config
    loss.csv, loss.png             every logged step: train losses, held-out losses, learning rate
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from backend.models.checkpoint import checkpoint_paths, load_into, read_config, read_tensors, save_checkpoint


@dataclass
class Distributed:
    """This process's place in the job."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def mean(self, value: float) -> float:
        """Average a float over all ranks."""
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(tensor)
        return float(tensor.item()) / self.world


def setup_distributed(requested_device: str | None = None) -> Distributed:
    """Join the torchrun job if there is one; pick this rank's device."""
    from backend.models.device import pick_device

    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(requested_device)
    if world == 1:
        return Distributed(0, 1, device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Distributed(rank, world, device)


def wrap_for_training(model: nn.Module, dist: Distributed) -> nn.Module:
    """DDP-wrap ``model`` when running on several processes."""
    if dist.world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(dist.device).index] if dist.device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids)


def init_weights(model: nn.Module, stem: str | Path, prefix: str) -> None:
    """Start ``model`` from the ``prefix.*`` tensors of a checkpoint: a run's ``best`` (or its
    ``last``, whose weights are ``model.*``) or an exported model such as
    ``backend/weights/kiln-shape-s`` (same sizes; any other tensors are ignored)."""
    tensors = read_tensors(checkpoint_paths(stem)[0])
    if not any(k.startswith(prefix + ".") for k in tensors):
        prefix = "model"
    load_into(model, {k: v for k, v in tensors.items() if k.startswith(prefix + ".")}, prefix)


def learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10% of ``peak`` at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@dataclass
class RunFolder:
    """Checkpoints and logs of one run (only rank 0 writes)."""

    root: Path
    model_config: dict
    dist: Distributed = field(default_factory=Distributed)

    def __post_init__(self):
        self.root = Path(self.root)
        if self.dist.is_main:
            self.root.mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------- resumable training state
    def has_state(self) -> bool:
        return all(p.is_file() for p in checkpoint_paths(self.root / "last"))

    def save_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, step: int,
                   rng: np.random.Generator, generator: torch.Generator | None = None,
                   extra: dict | None = None) -> None:
        """Write ``last.*``: model, optimizer moments, step and every RNG state (exact resume)."""
        if not self.dist.is_main:
            return
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        names = {id(p): n for n, p in model.named_parameters()}
        for group in optimizer.param_groups:
            for param in group["params"]:
                for key, value in optimizer.state.get(param, {}).items():
                    tensors[f"optim.{names[id(param)]}.{key}"] = torch.as_tensor(value).reshape(-1) \
                        if key == "step" else value
        tensors["rng.torch"] = torch.get_rng_state()
        if generator is not None:
            tensors["rng.generator"] = generator.get_state()
        config = {**self.model_config, "step": step, "lr": optimizer.param_groups[0]["lr"],
                  "numpy_rng": rng.bit_generator.state, **(extra or {})}
        save_checkpoint(self.root / "last", tensors, _jsonable(config))

    def load_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, rng: np.random.Generator,
                   generator: torch.Generator | None = None) -> tuple[int, dict]:
        """Restore ``last.*`` into model, optimizer and RNGs; returns (step, saved config)."""
        config = read_config(self.root / "last")
        for key in ("format", "vae", "transformer"):
            if key in self.model_config and config.get(key) != self.model_config[key]:
                raise ValueError(f"{self.root}: the saved run has a different {key} config; "
                                 "use a new --out folder or the same sizes")
        tensors = read_tensors(checkpoint_paths(self.root / "last")[0])
        load_into(model, tensors, "model")
        params = dict(model.named_parameters())
        for name, param in params.items():
            state = {key.rsplit(".", 1)[1]: t for key, t in tensors.items()
                     if key.startswith(f"optim.{name}.") and key.count(".") == name.count(".") + 2}
            if state:
                if "step" in state:
                    state["step"] = state["step"].reshape(())
                # AdamW keeps its step counter on the CPU unless capturable/fused (as torch's own loader does)
                optimizer.state[param] = {k: v if k == "step" else v.to(param.device) for k, v in state.items()}
        torch.set_rng_state(tensors["rng.torch"])
        if generator is not None:
            generator.set_state(tensors["rng.generator"])
        rng.bit_generator.state = config["numpy_rng"]
        return int(config["step"]), config

    # ------------------------------------------------------------------------- best weights
    def save_best(self, tensors: dict[str, torch.Tensor], config: dict) -> None:
        if self.dist.is_main:
            save_checkpoint(self.root / "best", tensors, _jsonable(config))

    # ------------------------------------------------------------------------------- logging
    def log(self, row: dict) -> None:
        """Append one row to loss.csv; a row with new columns (e.g. the first held-out loss) widens it."""
        if not self.dist.is_main:
            return
        path = self.root / "loss.csv"
        rows, columns = [], []
        if path.exists():
            with path.open() as handle:
                reader = csv.DictReader(handle)
                columns = list(reader.fieldnames or [])
                rows = list(reader)
        added = [k for k in row if k not in columns]
        if added or not path.exists():
            columns += added
            rows.append({k: row.get(k, "") for k in columns})
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
            return
        with path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=columns).writerow({k: row.get(k, "") for k in columns})

    def plot(self) -> Path | None:
        """Redraw loss.png from loss.csv (log scale; train and held-out curves)."""
        if not self.dist.is_main or not (self.root / "loss.csv").exists():
            return None
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        with (self.root / "loss.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            return None
        columns = [c for c in rows[0] if c not in ("step", "lr", "seconds")]
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        for column in columns:
            points = [(int(r["step"]), float(r[column])) for r in rows if r.get(column) not in ("", None)]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, label=column, marker="o" if column.startswith("val") else None,
                        markersize=3)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(self.root.name)
        fig.tight_layout()
        path = self.root / "loss.png"
        fig.savefig(path)
        plt.close(fig)
        return path


class Clock:
    """Wall-clock helper for "every N minutes" checkpoints."""

    def __init__(self, minutes: float):
        self.interval = minutes * 60.0
        self.start = self.last = time.perf_counter()

    def due(self) -> bool:
        now = time.perf_counter()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value
