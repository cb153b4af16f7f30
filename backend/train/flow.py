"""``kiln-backend train flow``: fit the rectified-flow transformer on a trained VAE's latents.

Preparation, cached in the run folder: ``conditions.safetensors`` (every caption through MiniLM,
a few rendered views of every shape through EfficientNet-lite0; independent of the VAE) and
``latents.safetensors`` (posterior mean and log-variance of every shape's latent tokens, rebuilt
when the VAE changes). Latents are normalised per channel (the statistics ship with the model).

Training: a latent is drawn from the posterior, a noise level from a logit-normal, the network
predicts the velocity ``noise - x0``. Per sample the condition is text only, image only, both or
neither (the unconditional branch used by classifier-free guidance), absent inputs being zeros.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from backend.models.checkpoint import checkpoint_paths, load_into, read_config, read_tensors, save_checkpoint
from backend.models.conditioning import EFFICIENTNET_KIND, TEXT_KIND
from backend.models.shape_flow import FlowConfig, ShapeFlowTransformer
from backend.models.shape_vae import ShapeVAE, VAEConfig

from .data import open_dataset, split_indices
from .loop import Clock, RunFolder, init_weights, learning_rate, setup_distributed, wrap_for_training
from .options import FLOW_PRESETS, IMAGE_GRID, TEXT_TOKENS, FlowTrainConfig

# probabilities of (text only, image only, text + image, nothing) per training sample
CONDITION_MIX = (0.45, 0.2, 0.25, 0.1)


def conditioning_spec() -> dict:
    """The conditioning of kiln-shape models: MiniLM text tokens + pooled EfficientNet image tokens."""
    return {"context": {"kind": TEXT_KIND, "max_tokens": TEXT_TOKENS},
            "context_2": {"kind": EFFICIENTNET_KIND, "grid": IMAGE_GRID, "background": 1.0}}


def load_vae(stem, device: str = "cpu") -> tuple[ShapeVAE, dict]:
    """A VAE from a ``kiln-backend train vae`` checkpoint (``RUN/best``)."""
    config = read_config(stem)
    if config.get("architecture", "vecset") != "vecset":
        raise ValueError(f"{stem} is a {config['architecture']} VAE; the flow transformer trains on latent-set "
                         "(vecset) VAEs only")
    vae = ShapeVAE(VAEConfig.from_dict(config["vae"]))
    load_into(vae, read_tensors(checkpoint_paths(stem)[0]), "vae")
    return vae.to(device).eval(), config


def _cached(cache, expected: dict) -> dict | None:
    """The tensors of ``cache`` if it exists and was built with ``expected`` settings."""
    weights, _ = checkpoint_paths(cache)
    if weights.is_file() and all(read_config(cache).get(k) == v for k, v in expected.items()):
        return read_tensors(weights)
    return None


@torch.no_grad()
def prepare_conditions(dataset, cache, views: int, device: str, progress=None, cancel=None) -> dict:
    """MiniLM tokens of every caption and EfficientNet tokens of ``views`` rendered views per shape.

    Independent of the VAE, so it can be built while the VAE trains; cached in ``cache``.
    """
    from backend.models.conditioning import text_tokens
    from backend.models.image_encoder import image_tokens

    from .render import render_view

    settings = {"count": len(dataset), "views": views, "text_tokens": TEXT_TOKENS, "image_grid": IMAGE_GRID}
    found = _cached(cache, settings)
    if found is not None:
        return found
    report = progress or (lambda f, s, m="": None)
    caption_owner, captions, view_tokens = [], [], []
    for index in range(len(dataset)):
        if cancel is not None:
            cancel.check()
        item = dataset[index]
        captions.extend(item["captions"])
        caption_owner.extend([index] * len(item["captions"]))
        colors = np.array([m["base_color"][:3] for m in item["materials"]])[item["mesh_face_labels"]]
        rng = np.random.default_rng(index)
        renders = [render_view(item["mesh_vertices"], item["mesh_faces"], colors,
                               azimuth=float(rng.uniform(0, 360)), elevation=float(rng.uniform(5, 40)),
                               samples=30000, seed=index * 16 + v) for v in range(views)]
        view_tokens.append(image_tokens(renders, device, 1.0, IMAGE_GRID).cpu().half())
        if index % 16 == 0:
            report(index / len(dataset), "prepare", f"rendered and encoded {index}/{len(dataset)} shapes")
    text, mask = [], []
    for start in range(0, len(captions), 64):
        tokens, valid = text_tokens(captions[start:start + 64], TEXT_TOKENS, device)
        text.append(tokens.cpu().half())
        mask.append(valid.cpu())
    tensors = {"caption_owner": torch.tensor(caption_owner, dtype=torch.long), "caption_tokens": torch.cat(text),
               "caption_mask": torch.cat(mask), "view_tokens": torch.stack(view_tokens)}
    save_checkpoint(cache, tensors, {**settings, "captions": captions})
    return tensors


@torch.no_grad()
def prepare_latents(dataset, vae: ShapeVAE, vae_id: str, cache, device: str, progress=None, cancel=None) -> dict:
    """Posterior mean and log-variance of every shape's latent tokens (cached per VAE)."""
    found = _cached(cache, {"vae_id": vae_id, "count": len(dataset)})
    if found is not None:
        return found
    report = progress or (lambda f, s, m="": None)
    means, logvars = [], []
    for index in range(len(dataset)):
        if cancel is not None:
            cancel.check()
        item = dataset[index]
        points = torch.from_numpy(np.asarray(item["surface_points"], dtype=np.float32))[None].to(device)
        normals = torch.from_numpy(np.asarray(item["surface_normals"], dtype=np.float32))[None].to(device)
        mean, logvar = vae.encode(points, normals)
        means.append(mean[0].cpu())
        logvars.append(logvar[0].cpu())
        if index % 32 == 0:
            report(index / len(dataset), "prepare", f"encoded {index}/{len(dataset)} shapes")
    tensors = {"latent_mean": torch.stack(means), "latent_logvar": torch.stack(logvars)}
    save_checkpoint(cache, tensors, {"vae_id": vae_id, "count": len(dataset)})
    return tensors


def latent_statistics(means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (shift, scale) that standardise latent tokens (S,K,C)."""
    flat = means.reshape(-1, means.shape[-1])
    return flat.mean(0), flat.std(0).clamp(min=1e-3)


class FlowBatcher:
    """Draws training/held-out batches from the prepared features."""

    def __init__(self, features: dict, shapes: list[int], shift: torch.Tensor, scale: torch.Tensor):
        self.f = features
        self.shapes = np.asarray(shapes)
        owners = features["caption_owner"].numpy()
        self.captions_of = {s: np.nonzero(owners == s)[0] for s in shapes}
        self.shift, self.scale = shift, scale

    def batch(self, rng: np.random.Generator, size: int, sample_posterior: bool = True, modes=None):
        rows = self.shapes[rng.integers(0, len(self.shapes), size=size)]
        mean, logvar = self.f["latent_mean"][rows], self.f["latent_logvar"][rows]
        noise = torch.from_numpy(rng.standard_normal(mean.shape).astype(np.float32))
        latents = mean + (0.5 * logvar).exp() * noise if sample_posterior else mean
        x0 = (latents - self.shift) / self.scale
        caption = np.array([rng.choice(self.captions_of[s]) for s in rows])
        view = rng.integers(0, self.f["view_tokens"].shape[1], size=size)
        text = self.f["caption_tokens"][caption].float()
        text_mask = self.f["caption_mask"][caption].clone()
        image = self.f["view_tokens"][rows, view].float()
        if modes is None:
            modes = rng.choice(4, size=size, p=CONDITION_MIX)
        drop_text = torch.from_numpy(np.isin(modes, (1, 3)))
        drop_image = torch.from_numpy(np.isin(modes, (0, 3)))
        text[drop_text] = 0.0
        text_mask[drop_text] = True
        image[drop_image] = 0.0
        cond = {"context": text, "context_mask": text_mask, "context_2": image,
                "context_2_mask": torch.ones(image.shape[:2], dtype=torch.bool)}
        return x0, cond


def flow_loss(model, x0: torch.Tensor, cond: dict, rng: np.random.Generator, sigmas=None) -> torch.Tensor:
    """Rectified-flow loss: MSE between predicted and true velocity at logit-normal noise levels."""
    size = x0.shape[0]
    if sigmas is None:
        sigmas = 1.0 / (1.0 + np.exp(-rng.standard_normal(size)))
    sigma = torch.as_tensor(sigmas, dtype=x0.dtype, device=x0.device).view(-1, 1, 1)
    noise = torch.from_numpy(rng.standard_normal(x0.shape).astype(np.float32)).to(x0.device)
    noisy = (1 - sigma) * x0 + sigma * noise
    prediction = model(noisy, sigma.view(-1) * 1000.0, **cond)
    return (prediction - (noise - x0)).pow(2).mean()


def train_flow(data: str, vae: str, out: str, preset: str = "s", config: FlowTrainConfig = FlowTrainConfig(),
               device: str | None = None, resume: bool = True, progress=None, cancel=None,
               init: str | None = None) -> dict:
    """Train (or resume) a flow run in ``out`` on the latents of the VAE checkpoint ``vae``; a new
    run starts from the ``transformer.*`` weights of checkpoint ``init`` when given."""
    if preset not in FLOW_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; use one of {', '.join(FLOW_PRESETS)}")
    dist = setup_distributed(device)
    report = progress or (lambda f, s, m="": None)
    vae_model, vae_config = load_vae(vae, dist.device)
    flow_config = FlowConfig(**FLOW_PRESETS[preset])
    if flow_config.in_channels != vae_model.config.latent_channels:
        raise ValueError(f"preset {preset!r} expects {flow_config.in_channels} latent channels, the VAE has "
                         f"{vae_model.config.latent_channels}")
    vae_id = hashlib.sha256(checkpoint_paths(vae)[0].read_bytes()).hexdigest()[:16]
    dataset = open_dataset(data)
    run = RunFolder(out, {"format": "kiln-flow", "transformer": flow_config.to_dict(), "preset": preset,
                          "vae_id": vae_id}, dist)
    if dist.is_main:
        prepare_conditions(dataset, run.root / "conditions", config.views, dist.device, report, cancel)
        prepare_latents(dataset, vae_model, vae_id, run.root / "latents", dist.device, report, cancel)
    dist.barrier()
    features = {**read_tensors(checkpoint_paths(run.root / "conditions")[0]),
                **read_tensors(checkpoint_paths(run.root / "latents")[0])}
    train_idx, val_idx = split_indices(len(dataset), config.held_out)
    shift, scale = latent_statistics(features["latent_mean"][train_idx])
    train = FlowBatcher(features, train_idx, shift, scale)
    val = FlowBatcher(features, val_idx, shift, scale) if val_idx else None

    torch.manual_seed(config.seed)
    model = ShapeFlowTransformer(flow_config).to(dist.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01, betas=(0.9, 0.99))
    rng = np.random.default_rng([config.seed, dist.rank])
    step, best = 0, float("inf")
    if init and not (resume and run.has_state()):
        init_weights(model, init, "transformer")
        report(0.0, "init", f"starting from {init}")
    if resume and run.has_state():
        step, saved = run.load_state(model, optimizer, rng)
        best = float(saved.get("best_val", best))
        report(0.0, "resume", f"resuming at step {step}")
    trainable = wrap_for_training(model, dist)
    clock = Clock(config.checkpoint_minutes)
    meta = {"data": str(data), "init": init, "vae": str(vae), "vae_config": vae_config["vae"], "train_shapes": len(train_idx),
            "held_out_shapes": len(val_idx), "train_config": config.__dict__,
            "latent_shift": shift.tolist(), "latent_scale": scale.tolist()}
    running = 0.0
    while step < config.steps:
        if cancel is not None and cancel.cancelled:
            run.save_state(model, optimizer, step, rng, extra={"best_val": best, **meta})
            cancel.check()
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config.steps, config.lr, config.warmup)
        x0, cond = train.batch(rng, config.batch_size)
        cond = {k: v.to(dist.device) for k, v in cond.items()}
        loss = flow_loss(trainable, x0.to(dist.device), cond, rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        running += loss.item()
        if step % config.log_every == 0 or step == config.steps:
            row = {"step": step, "lr": optimizer.param_groups[0]["lr"], "seconds": round(clock.elapsed, 1),
                   "loss": dist.mean(running / config.log_every)}
            running = 0.0
            if val is not None and (step % config.eval_every == 0 or step == config.steps):
                row["val_loss"] = evaluate_flow(model, val, dist.device)
                if row["val_loss"] < best:
                    best = row["val_loss"]
                    run.save_best({f"transformer.{k}": v for k, v in model.state_dict().items()},
                                  {**run.model_config, "step": step, "val_loss": best, **meta})
            run.log(row)
            report(step / config.steps, "train", f"step {step}/{config.steps} loss {row['loss']:.4f}")
        if clock.due() or step == config.steps:
            run.save_state(model, optimizer, step, rng, extra={"best_val": best, **meta})
            run.plot()
    if val is None:
        run.save_best({f"transformer.{k}": v for k, v in model.state_dict().items()},
                      {**run.model_config, "step": step, **meta})
    dist.barrier()
    return {"step": step, "best_val": best, "out": str(out)}


@torch.no_grad()
def evaluate_flow(model, val: FlowBatcher, device: str, repeats: int = 4) -> float:
    """Held-out loss at fixed noise levels, conditions and noise (comparable across steps)."""
    model.eval()
    rng = np.random.default_rng(777)
    size = len(val.shapes)
    total = 0.0
    for r in range(repeats):
        x0, cond = val.batch(rng, size, sample_posterior=False, modes=np.full(size, r % 3))
        cond = {k: v.to(device) for k, v in cond.items()}
        sigmas = np.linspace(0.1, 0.9, size)
        total += flow_loss(model, x0.to(device), cond, rng, sigmas).item()
    return total / repeats


def export_model(vae: str, flow: str, out: str, name: str | None = None, description: str = "",
                 level: float = 0.0) -> tuple:
    """Combine ``train vae`` and ``train flow`` checkpoints into one kiln-shape model (NAME.safetensors + .json).

    ``vae`` may also be a kiln-shape model (its ``vae.*`` tensors are kept, its transformer is
    replaced): a flow fine-tuned with ``--vae backend/weights/kiln-shape-s`` exports that way."""
    vae_config = read_config(vae)
    flow_config = read_config(flow)
    if vae_config.get("format") not in ("kiln-vae", "kiln-shape") or flow_config.get("format") != "kiln-flow":
        raise ValueError("export needs a `train vae` checkpoint (RUN/best) or a kiln-shape model, and a "
                         "`train flow` checkpoint (RUN/best)")
    vae_id = hashlib.sha256(checkpoint_paths(vae)[0].read_bytes()).hexdigest()[:16]
    if flow_config.get("vae_id") != vae_id:
        raise ValueError("the flow checkpoint was trained on a different VAE than the one given")
    vae_tensors = {k: v for k, v in read_tensors(checkpoint_paths(vae)[0]).items() if k.startswith("vae.")}
    if vae_config["format"] == "kiln-shape":
        vae_config = {**vae_config, **vae_config.get("training", {}).get("vae", {})}
    tensors = {**vae_tensors, **read_tensors(checkpoint_paths(flow)[0])}
    vae_cfg = VAEConfig.from_dict(vae_config["vae"]).to_dict()
    config = {
        "format": "kiln-shape", "name": name or checkpoint_paths(out)[0].stem,
        "description": description or "latent-set VAE + rectified-flow transformer trained on Kiln's "
                                       "procedural dataset (text + image conditioned)",
        "license": "GPL-3.0-or-later", "vae": vae_cfg, "transformer": flow_config["transformer"],
        "conditioning": conditioning_spec(), "num_tokens": vae_cfg["num_tokens"],
        "latent_shift": flow_config["latent_shift"], "latent_scale": flow_config["latent_scale"],
        "sampler": {"shift": 1.0, "bounds": 1.0, "steps": 25, "guidance": 4.0, "level": level}, "up_axis": "z",
        "training": {"vae": {k: vae_config.get(k) for k in ("step", "val_loss", "data", "train_shapes",
                                                            "held_out_shapes", "train_config")},
                     "flow": {k: flow_config.get(k) for k in ("step", "val_loss", "data", "train_shapes",
                                                              "held_out_shapes", "train_config")}},
    }
    return save_checkpoint(out, tensors, config)
