"""Memory estimates and the "cannot fit" check made before a published model is loaded.

The estimate is the weights at the run dtype, the largest working set (the DiT with
classifier-free guidance: 2 x tokens x width x 24 values; or one SDF query chunk through the
decoder: chunk x width x 16 values) and an overhead of a quarter of the weights plus 0.5 GiB
(allocator slack, CUDA context). At the released sizes in fp16 that gives ~6 GiB for TripoSG and
~10 GiB for Hunyuan3D-2.1 shape, near what the publishers quote. It is an estimate, printed as
such, checked against free
CUDA memory (``torch.cuda.mem_get_info``) or available host memory (``/proc/meminfo``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from backend.runtime import OpError

GIB = 1024 ** 3


def pick_dtype(device: str, requested: str | torch.dtype | None = None) -> torch.dtype:
    """fp16 on CUDA (both publishers run fp16), fp32 on CPU; ``requested`` overrides."""
    if isinstance(requested, torch.dtype):
        return requested
    names = {"fp16": torch.float16, "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
             "fp32": torch.float32, "float32": torch.float32}
    if requested:
        if requested not in names:
            raise OpError(f"unknown dtype {requested!r}; use one of {', '.join(sorted(names))}")
        return names[requested]
    return torch.float16 if str(device).startswith("cuda") else torch.float32


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int            # bytes at the run dtype
    working: int            # bytes of the largest working set

    @property
    def overhead(self) -> int:
        return self.weights // 4 + GIB // 2

    @property
    def total(self) -> int:
        return self.weights + self.working + self.overhead

    def describe(self) -> str:
        return (f"~{self.total / GIB:.1f} GiB ({self.weights / GIB:.1f} GiB weights + {self.working / GIB:.1f} GiB "
                f"working + {self.overhead / GIB:.1f} GiB overhead)")


def estimate(num_parameters: int, dtype: torch.dtype, *, tokens: int, width: int, decoder_width: int,
             query_chunk: int) -> MemoryEstimate:
    size = torch.tensor([], dtype=dtype).element_size()
    sampling = 2 * (tokens + 1) * width * 24 * size
    decoding = query_chunk * decoder_width * 16 * size
    return MemoryEstimate(num_parameters * size, max(sampling, decoding))


def free_bytes(device: str) -> int | None:
    """Free memory on ``device`` (None when unknown)."""
    if str(device).startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def ensure_fits(name: str, need: MemoryEstimate, device: str) -> None:
    """OpError before loading when ``need`` exceeds what ``device`` has free."""
    free = free_bytes(device)
    if free is not None and need.total > free:
        where = "GPU" if str(device).startswith("cuda") else "host"
        raise OpError(f"{name} cannot fit: it needs {need.describe()} but the {where} has "
                      f"{free / GIB:.1f} GiB free; unload other models, or use a smaller dtype or the CPU")
