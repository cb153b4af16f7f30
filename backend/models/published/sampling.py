"""The publishers' flow-matching Euler samplers, each with its own time direction and CFG order.

- TripoSG (``RectifiedFlowScheduler``, named in its ``scheduler/scheduler_config.json``): sigmas
  ``1 - i/n`` for i < n, shifted ``shift*s / (1 + (shift-1)*s)``, then 0; the DiT sees
  ``1000*sigma``; the step is ``x += (sigma - sigma_next) * v`` (its velocity points from noise
  to data). CFG batches ``[uncond, cond]``: ``v = v_u + g (v_c - v_u)``, applied when g > 1.
- Hunyuan3D-2.1 (``FlowMatchEulerDiscreteScheduler`` of hy3dshape, "timesteps reversed"): the
  pipeline passes sigmas ``linspace(0, 1, n)`` (0 = noise), shifted the same way, then 1; the DiT
  sees the sigma itself (t/1000 of the scheduler's timesteps); the step is
  ``x += (sigma_next - sigma) * v``. CFG batches ``[cond, uncond]`` and is applied when g >= 0.

Noise comes from a CPU generator seeded with ``seed`` so a seed gives the same shape on any
device (the publishers draw it on the device, so their numbers differ).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def shift_sigmas(sigmas: np.ndarray, shift: float) -> np.ndarray:
    return shift * sigmas / (1.0 + (shift - 1.0) * sigmas)


@dataclass(frozen=True)
class Schedule:
    """Model times (what the DiT is given) and Euler increments ``x += step * v``."""

    times: np.ndarray
    steps: np.ndarray


def triposg_schedule(num_steps: int, shift: float = 1.0, num_train_timesteps: int = 1000) -> Schedule:
    sigmas = shift_sigmas(np.array([1.0 - i / num_steps for i in range(num_steps)]), shift)
    following = np.append(sigmas[1:], 0.0)
    return Schedule(times=sigmas * num_train_timesteps, steps=sigmas - following)


def hunyuan_schedule(num_steps: int, shift: float = 1.0) -> Schedule:
    sigmas = shift_sigmas(np.linspace(0.0, 1.0, num_steps), shift)
    following = np.append(sigmas[1:], 1.0)
    return Schedule(times=sigmas, steps=following - sigmas)


@torch.no_grad()
def sample(velocity, shape: tuple[int, ...], cond: torch.Tensor, uncond: torch.Tensor, schedule: Schedule, *,
           guidance: float, guided: bool, uncond_first: bool, seed: int, device, dtype,
           progress=None, cancel=None) -> torch.Tensor:
    """Integrate ``velocity(x, t, cond)`` from seeded noise of ``shape`` along ``schedule``.

    ``guided`` says whether classifier-free guidance runs (each publisher has its own rule for
    that); the unconditional batch half goes first when ``uncond_first``.
    """
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    latents = torch.randn(shape, generator=generator, dtype=torch.float32).to(device, dtype)
    if guided:
        pair = (uncond, cond) if uncond_first else (cond, uncond)
        context = torch.cat([c.to(device, dtype) for c in pair])
    else:
        context = cond.to(device, dtype)
    count = len(schedule.times)
    for i, (time, step) in enumerate(zip(schedule.times, schedule.steps)):
        if cancel is not None:
            cancel.check()
        batch = torch.cat([latents, latents]) if guided else latents
        t = torch.full((batch.shape[0],), float(time), device=device, dtype=torch.float32)
        v = velocity(batch, t, context)
        if guided:
            first, second = v.chunk(2)
            v_uncond, v_cond = (first, second) if uncond_first else (second, first)
            v = v_uncond + guidance * (v_cond - v_uncond)
        latents = (latents.float() + float(step) * v.float()).to(dtype)
        if progress is not None:
            progress((i + 1) / count, "sample", f"step {i + 1}/{count}")
    return latents
