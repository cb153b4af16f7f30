"""``kiln-backend train vae``: fit the shape VAE to a procedural dataset.

Loss: L1 between predicted and true signed distance at near-surface points, on-surface points
(target 0) and uniform points (weighted ``far_weight``), plus ``kl_weight`` times the KL
divergence of the latent tokens, plus optionally ``sign_weight`` times a binary cross-entropy
on the inside/outside sign (logits ``-sdf / sign_temperature``), which keeps thin parts (chair
legs, table tops) from being smoothed away: there a small distance error flips the sign. Held-out loss (posterior mean, fixed points) every
``eval_every`` steps; the best weights go to ``best.*``.
"""
from __future__ import annotations

import numpy as np
import torch

from backend.models.vae_kinds import build_vae, split_preset

from .data import load_shapes, open_dataset, split_indices, vae_batch
from .loop import Clock, RunFolder, init_weights, learning_rate, setup_distributed, wrap_for_training
from .options import VAE_PRESETS, VAETrainConfig


def vae_loss(model, batch, config: VAETrainConfig, generator=None, sample: bool = True):
    """(total, parts dict) for one batch; ``sample=False`` decodes the posterior mean."""
    if sample:
        pred, kl = model(batch.points, batch.normals, batch.queries, generator=generator)
    else:
        core = getattr(model, "module", model)
        mean, logvar = core.encode(batch.points, batch.normals)
        pred = core.query(core.decode_tokens(mean), batch.queries)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=(1, 2))
    error = (pred - batch.sdf).abs()
    near = error[:, :batch.near_count].mean()
    far = error[:, batch.near_count:].mean()
    kl = kl.mean()
    total = near + config.far_weight * far + config.kl_weight * kl
    parts = {}
    if config.sign_weight > 0:  # thin parts: a small SDF error there flips the sign, so weigh signs
        inside = (batch.sdf < 0).to(pred.dtype)
        sign = torch.nn.functional.binary_cross_entropy_with_logits(-pred / config.sign_temperature, inside)
        total = total + config.sign_weight * sign
        parts["sign_bce"] = sign.item()
    accuracy = ((pred[:, :batch.near_count] < 0) == (batch.sdf[:, :batch.near_count] < 0)).float().mean()
    return total, {"near_l1": near.item(), "far_l1": far.item(), "kl": kl.item(), "sign_acc": accuracy.item(),
                   **parts}


def train_vae(data: str, out: str, preset: str = "s", config: VAETrainConfig = VAETrainConfig(),
              device: str | None = None, resume: bool = True, limit: int | None = None,
              progress=None, cancel=None, init: str | None = None) -> dict:
    """Train (or resume) a VAE run in ``out``; returns the final summary. A new run starts from the
    ``vae.*`` weights of checkpoint ``init`` when given (fine-tuning), else from random weights."""
    if preset not in VAE_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; use one of {', '.join(VAE_PRESETS)}")
    dist = setup_distributed(device)
    report = progress or (lambda f, s, m="": None)
    dataset = open_dataset(data)
    count = min(len(dataset), limit) if limit else len(dataset)
    train_idx, val_idx = split_indices(count, config.held_out)
    report(0.0, "load", f"{len(train_idx)} training + {len(val_idx)} held-out shapes")
    train = load_shapes(dataset, train_idx, cancel=cancel)
    val = load_shapes(dataset, val_idx, cancel=cancel) if val_idx else None

    architecture, sizes = split_preset(VAE_PRESETS[preset])
    torch.manual_seed(config.seed)
    model = build_vae(architecture, sizes).to(dist.device)
    run = RunFolder(out, {"format": "kiln-vae", "architecture": architecture, "vae": model.config.to_dict(),
                          "preset": preset}, dist)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01, betas=(0.9, 0.99))
    rng = np.random.default_rng([config.seed, dist.rank])
    generator = torch.Generator().manual_seed(config.seed * 1000 + dist.rank)
    step, best, seconds_before = 0, float("inf"), 0.0
    if init and not (resume and run.has_state()):
        init_weights(model, init, "vae")
        report(0.0, "init", f"starting from {init}")
    if resume and run.has_state():
        step, saved = run.load_state(model, optimizer, rng, generator)
        best = float(saved.get("best_val", best))
        seconds_before = float(saved.get("train_seconds", 0.0))
        if _loss_changed(saved.get("train_config", {}), config):
            best = float("inf")  # held-out losses before and after are not comparable
        report(0.0, "resume", f"resuming at step {step}")
    trainable = wrap_for_training(model, dist)
    val_rng = np.random.default_rng(12345)
    val_batches = [vae_batch(val, np.arange(i, min(i + config.batch_size, len(val))), val_rng, config.num_points,
                             config.num_near, config.num_far, config.num_surface)
                   for i in range(0, len(val), config.batch_size)] if val is not None else []
    clock = Clock(config.checkpoint_minutes)
    meta = {"data": str(data), "init": init, "train_shapes": len(train_idx), "held_out_shapes": len(val_idx),
            "train_config": config.__dict__}
    running: dict[str, float] = {}
    seconds = lambda: seconds_before + clock.elapsed  # noqa: E731  (training time over all resumes)
    state = lambda: {"best_val": best, "train_seconds": round(seconds(), 3), **meta}  # noqa: E731
    while step < config.steps and not _out_of_time(seconds(), config):
        if cancel is not None and cancel.cancelled:
            run.save_state(model, optimizer, step, rng, generator, extra=state())
            cancel.check()
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = _rate(step, seconds(), config)
        rows = rng.integers(0, len(train), size=config.batch_size)
        batch = _to(vae_batch(train, rows, rng, config.num_points, config.num_near, config.num_far,
                              config.num_surface), dist.device)
        loss, parts = vae_loss(trainable, batch, config, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        last = step == config.steps or _out_of_time(seconds(), config)
        for key, value in {"loss": loss.item(), **parts}.items():
            running[key] = running.get(key, 0.0) + value
        if step % config.log_every == 0 or last:
            row = {"step": step, "lr": optimizer.param_groups[0]["lr"], "seconds": round(seconds(), 1),
                   **{k: dist.mean(v / config.log_every) for k, v in running.items()}}
            running = {}
            if val_batches and (step % config.eval_every == 0 or last):
                val_loss, val_parts = evaluate_vae(model, val_batches, config, dist.device)
                row.update({"val_loss": val_loss, "val_sign_acc": val_parts["sign_acc"]})
                if val_loss < best:
                    best = val_loss
                    run.save_best({f"vae.{k}": v for k, v in model.state_dict().items()},
                                  {**run.model_config, "step": step, "val_loss": val_loss, **meta})
            run.log(row)
            report(step / config.steps, "train", f"step {step}/{config.steps} loss {row['loss']:.4f}")
        if clock.due() or last:
            run.save_state(model, optimizer, step, rng, generator, extra=state())
            run.plot()
    if not val_batches:  # nothing held out: the last weights are the best we know
        run.save_best({f"vae.{k}": v for k, v in model.state_dict().items()}, {**run.model_config, "step": step, **meta})
    dist.barrier()
    return {"step": step, "best_val": best, "out": str(out), "train_seconds": round(seconds(), 3)}


def export_vae(stem: str, out: str, name: str, description: str) -> tuple:
    """A ``train vae`` checkpoint (``RUN/best``) as an embeddable VAE-only model: the same tensors,
    the config plus name, description, licence and how it was trained. Not a generator: the
    registry lists only ``kiln-shape`` models (VAE + flow); ``shape_reconstruct.Autoencoder`` and
    the benches load it by name."""
    from backend.models.checkpoint import checkpoint_paths, read_config, read_tensors, save_checkpoint

    config = read_config(stem)
    if config.get("format") != "kiln-vae":
        raise ValueError(f"{stem} is not a `train vae` checkpoint (RUN/best)")
    tensors = read_tensors(checkpoint_paths(stem)[0])
    return save_checkpoint(out, tensors, {
        "format": "kiln-vae", "name": name, "description": description, "license": "GPL-3.0-or-later",
        "architecture": config.get("architecture", "vecset"), "vae": config["vae"], "up_axis": "z",
        "training": {k: config.get(k) for k in ("preset", "step", "val_loss", "data", "train_shapes",
                                                "held_out_shapes", "train_config")}})


def _out_of_time(seconds: float, config: VAETrainConfig) -> bool:
    return config.minutes > 0 and seconds >= config.minutes * 60


def _rate(step: int, seconds: float, config: VAETrainConfig) -> float:
    """Learning rate: warm-up over ``warmup`` steps, then cosine to 10% over ``steps`` or, with a
    ``minutes`` budget, over the training time (so runs of different speed anneal alike)."""
    if config.minutes <= 0 or step < config.warmup:
        return learning_rate(step, config.steps, config.lr, config.warmup)
    resolution = 10 ** 6
    return learning_rate(int(resolution * min(seconds / (config.minutes * 60), 1.0)), resolution, config.lr, 0)


@torch.no_grad()
def evaluate_vae(model, batches, config: VAETrainConfig, device: str) -> tuple[float, dict]:
    """Mean held-out loss (posterior mean) and its parts."""
    model.eval()
    totals, parts_sum = 0.0, {}
    for batch in batches:
        loss, parts = vae_loss(model, _to(batch, device), config, sample=False)
        totals += loss.item()
        for k, v in parts.items():
            parts_sum[k] = parts_sum.get(k, 0.0) + v
    n = max(len(batches), 1)
    return totals / n, {k: v / n for k, v in parts_sum.items()}


def _loss_changed(saved: dict, config: VAETrainConfig) -> bool:
    """True when a resumed run weighs its loss differently from the saved one."""
    keys = ("kl_weight", "far_weight", "sign_weight", "sign_temperature")
    return any(saved.get(k, getattr(VAETrainConfig, k)) != getattr(config, k) for k in keys)


def _to(batch, device):
    if device == "cpu":
        return batch
    batch.points, batch.normals = batch.points.to(device), batch.normals.to(device)
    batch.queries, batch.sdf = batch.queries.to(device), batch.sdf.to(device)
    return batch
