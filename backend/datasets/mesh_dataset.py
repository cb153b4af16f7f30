"""Real package meshes written as a shape dataset in the procedural dataset's shard format, so the
same readers and trainers (``backend.train``) use both.

Each sample holds the arrays of :func:`backend.datasets.solidify.mesh_sample` and, as metadata,
its caption from the file name (:func:`backend.datasets.sources.caption`), one grey material, and
``attributes`` naming the source, key and licence. ``category`` is ``"mesh:<source>"``. Meshes the
solidifier cannot use (no area, nothing enclosed, reader errors) are listed in the manifest's
``skipped`` with the reason.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from backend.procedural.dataset import FIXED, FORMAT, VERSION

from .solidify import SolidConfig, mesh_sample
from .sources import MeshRef, caption, discover, load_mesh, split

GREY = {"name": "surface", "base_color": [0.7, 0.7, 0.7, 1.0], "roughness": 0.8, "metallic": 0.0}
MIN_FACES = 12


def choose(refs: list[MeshRef], side: str, per_source: dict[str, int]) -> list[MeshRef]:
    """Up to ``per_source[source]`` meshes of each source on ``side`` ("train" or "held_out"),
    picked by a fixed hash order (reproducible, spread over folders)."""
    chosen = []
    for source, limit in per_source.items():
        pool = [r for r in refs if r.source == source and split(r) == side]
        pool.sort(key=lambda r: hashlib.sha256(f"kiln-pick|{r.name}".encode()).digest())
        chosen.extend(pool[:limit])
    return chosen


def write_mesh_dataset(out: str | Path, refs: list[MeshRef], config: SolidConfig = SolidConfig(),
                       samples_per_shard: int = 32, progress=None, cancel=None) -> dict:
    """Solidify ``refs`` and write them to ``out`` (created; must not hold a dataset)."""
    from safetensors.numpy import save_file

    out = Path(out)
    if (out / "manifest.json").exists():
        raise FileExistsError(f"{out} already holds a dataset; choose an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    shards, skipped, pending, counts = [], [], [], {}

    def flush():
        start = shards[-1]["stop"] if shards else 0
        stop = start + len(pending)
        arrays = [a for a, _ in pending]
        tensors = {name: np.ascontiguousarray(np.stack([a[name] for a in arrays])) for name in FIXED}
        for name in ("mesh_vertices", "mesh_faces", "mesh_face_labels"):
            parts = [a[name] for a in arrays]
            tensors[name] = np.ascontiguousarray(np.concatenate(parts))
            tensors[f"{name}.offsets"] = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        metas = [{"index": start + i, **meta} for i, (_, meta) in enumerate(pending)]
        path = out / f"shard-{len(shards):05d}.safetensors"
        save_file(tensors, str(path) + ".tmp", metadata={"format": FORMAT, "version": str(VERSION),
                                                         "samples": json.dumps(metas)})
        os.replace(str(path) + ".tmp", path)
        shards.append({"file": path.name, "start": start, "stop": stop})
        pending.clear()

    for n, ref in enumerate(refs):
        if cancel is not None:
            cancel.check()
        try:
            vertices, faces = load_mesh(ref)
            if len(faces) < MIN_FACES:
                raise ValueError(f"only {len(faces)} triangles")
            seed = int.from_bytes(hashlib.sha256(ref.name.encode()).digest()[:4], "little")
            arrays = mesh_sample(vertices, faces, config, seed, cancel)
        except (ValueError, IndexError, KeyError) as exc:
            skipped.append({"mesh": ref.name, "reason": str(exc)})
            continue
        category = f"mesh:{ref.source}"
        counts[category] = counts.get(category, 0) + 1
        pending.append((arrays, {"category": category, "seed": seed, "captions": [caption(ref)],
                                 "part_names": ["body"], "materials": [GREY], "part_families": ["body"],
                                 "attributes": {"source": ref.source, "key": ref.key, "licence": ref.licence}}))
        if len(pending) == samples_per_shard:
            flush()
        if progress:
            progress(n + 1, len(refs), time.perf_counter() - began)
    if pending:
        flush()
    if not shards:
        raise ValueError("none of the meshes could be used: " + "; ".join(s["reason"] for s in skipped[:5]))
    count = shards[-1]["stop"]
    manifest = {"format": FORMAT, "version": VERSION, "kind": "package-meshes", "count": count,
                "categories": sorted(counts), "counts": dict(sorted(counts.items())),
                "samples_per_shard": samples_per_shard, "config": {k: list(v) if isinstance(v, tuple) else v
                                                                   for k, v in config.__dict__.items()},
                "shards": shards, "skipped": skipped, "licences": sorted({r.licence for r in refs}),
                "coordinates": "normalised: longest bbox side spans [-0.9, 0.9], z up; metres = p / scale + center",
                "seconds": round(time.perf_counter() - began, 3)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def write_package_dataset(out: str | Path, side: str, per_source: dict[str, int], config: SolidConfig = SolidConfig(),
                          progress=None, cancel=None) -> dict:
    """The installed packages' meshes of one split side, ``per_source`` of each."""
    if side not in ("train", "held_out"):
        raise ValueError(f"side must be 'train' or 'held_out', got {side!r}")
    return write_mesh_dataset(out, choose(discover(tuple(per_source)), side, per_source), config,
                              progress=progress, cancel=cancel)
