"""Procedural dataset on disk: safetensors shards + ``manifest.json``; writer and reader.

Layout of ``DIR``::

    manifest.json              format, version, seed, config, counts per category, shard list
    shard-00000.safetensors    samples [0, S), S = samples_per_shard
    ...

A shard holds, for its S samples (normalised coordinates, see ``sample.py``):

* fixed-size tensors, first axis = sample: ``surface_points`` (S,Ns,3) f32, ``surface_normals``
  (S,Ns,3), ``surface_labels`` (S,Ns) i32, ``near_points`` (S,Nn,3), ``near_sdf`` (S,Nn),
  ``near_occupancy`` (S,Nn) u8, ``near_labels`` (S,Nn) i32, ``far_*`` likewise, ``center`` (S,3),
  ``scale`` (S,);
* variable-size tensors concatenated over samples, each with ``<name>.offsets`` (S+1,) i64 into
  its first axis: ``mesh_vertices``, ``mesh_faces`` (indices local to the sample),
  ``mesh_face_labels``, ``artist_positions``, ``artist_face_sizes``, ``artist_face_indices``,
  ``artist_corner_uvs``, ``artist_part_ids``, ``artist_glb`` (u8 GLB bytes, metres);
* metadata ``samples``: a JSON list, per sample: index, category, seed, captions, part_names,
  materials (per part: name, base_color, roughness, metallic), part_families, attributes.

Sample ``i`` is built from ``sample_seed(seed, i)`` and category ``categories[i % K]``, so a
dataset is reproducible from (seed, count, categories, config) and shards can be built in any order
by any number of workers.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.payload import Material, MeshPayload

from .registry import categories as registered_categories
from .sample import SampleConfig, make_sample, sample_seed

FORMAT = "kiln-procedural"
VERSION = 1
FIXED = ("surface_points", "surface_normals", "surface_labels", "near_points", "near_sdf", "near_occupancy",
         "near_labels", "far_points", "far_sdf", "far_occupancy", "far_labels", "center", "scale")
RAGGED = ("mesh_vertices", "mesh_faces", "mesh_face_labels", "artist_positions", "artist_face_sizes",
          "artist_face_indices", "artist_corner_uvs", "artist_part_ids", "artist_glb")


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs to build one shard."""

    path: str
    seed: int
    start: int
    stop: int
    categories: tuple[str, ...]
    config: SampleConfig


def write_shard(job: ShardJob, cancel=None) -> dict:
    """Build samples [start, stop) and write them as one safetensors shard; returns its summary."""
    from safetensors.numpy import save_file

    samples, metas = [], []
    for index in range(job.start, job.stop):
        if cancel is not None:
            cancel.check()
        category = job.categories[index % len(job.categories)]
        seed = sample_seed(job.seed, index)
        built = make_sample(category, seed, job.config)
        samples.append(built["arrays"])
        metas.append({"index": index, **built["meta"]})
    tensors = {name: np.ascontiguousarray(np.stack([s[name] for s in samples])) for name in FIXED}
    for name in RAGGED:
        if name not in samples[0]:
            continue
        parts = [s[name] for s in samples]
        tensors[name] = np.ascontiguousarray(np.concatenate(parts))
        tensors[f"{name}.offsets"] = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    tmp = job.path + ".tmp"
    save_file(tensors, tmp, metadata={"format": FORMAT, "version": str(VERSION), "samples": json.dumps(metas)})
    os.replace(tmp, job.path)
    return {"file": os.path.basename(job.path), "start": job.start, "stop": job.stop,
            "categories": [m["category"] for m in metas]}


def write_dataset(out: str | Path, count: int, seed: int = 0, workers: int = 1, samples_per_shard: int = 64,
                  categories: list[str] | None = None, config: SampleConfig = SampleConfig(),
                  progress=None, cancel=None) -> dict:
    """Write ``count`` samples to ``out`` (created; must not hold a dataset already) and return the
    manifest. ``progress(done, total, seconds)`` is called as shards finish."""
    known = registered_categories()
    chosen = tuple(categories or known)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; known: {', '.join(known)}")
    if count < 1 or samples_per_shard < 1 or workers < 1:
        raise ValueError("count, samples_per_shard and workers must be positive")
    out = Path(out)
    if (out / "manifest.json").exists():
        raise FileExistsError(f"{out} already holds a dataset; choose an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    jobs = [ShardJob(str(out / f"shard-{k:05d}.safetensors"), seed, start, min(start + samples_per_shard, count),
                     chosen, config) for k, start in enumerate(range(0, count, samples_per_shard))]
    began = time.perf_counter()
    shards, done = [], 0
    if workers == 1:
        results = (write_shard(job, cancel) for job in jobs)
        for summary in results:
            shards.append(summary)
            done += summary["stop"] - summary["start"]
            if progress:
                progress(done, count, time.perf_counter() - began)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(write_shard, job) for job in jobs]
            for future in futures:
                if cancel is not None and cancel.cancelled:
                    for f in futures:
                        f.cancel()
                    cancel.check()
                summary = future.result()
                shards.append(summary)
                done += summary["stop"] - summary["start"]
                if progress:
                    progress(done, count, time.perf_counter() - began)
    per_category: dict[str, int] = {}
    for summary in shards:
        for c in summary.pop("categories"):
            per_category[c] = per_category.get(c, 0) + 1
    manifest = {"format": FORMAT, "version": VERSION, "seed": seed, "count": count,
                "categories": list(chosen), "counts": dict(sorted(per_category.items())),
                "samples_per_shard": samples_per_shard, "config": config.to_json(), "shards": shards,
                "coordinates": "normalised: longest bbox side spans [-0.9, 0.9], z up; metres = p / scale + center",
                "seconds": round(time.perf_counter() - began, 3)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


class ProceduralDataset:
    """Random access to a dataset written by :func:`write_dataset` (memory-mapped, lazy).

    ``len(ds)``; ``ds[i]`` -> dict with every fixed and ragged array of sample ``i`` as numpy
    (ragged ones sliced to that sample; ``artist_glb`` as uint8 bytes), plus ``category`` (str),
    ``captions`` (list[str]), ``part_names``, ``materials`` (list of dicts), ``part_families``,
    ``attributes``, ``seed``, ``index``. ``ds.artist_mesh(i)`` and ``ds.watertight_mesh(i)``
    rebuild the meshes as :class:`MeshPayload` in metres (parts, materials); ``ds.manifest`` is
    the parsed manifest.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        path = self.root / "manifest.json"
        if not path.exists():
            raise FileNotFoundError(f"{self.root} has no manifest.json; write one with "
                                    "`kiln-backend dataset procedural --out DIR`")
        self.manifest = json.loads(path.read_text())
        if self.manifest.get("format") != FORMAT or self.manifest.get("version") != VERSION:
            raise ValueError(f"{path}: not a {FORMAT} v{VERSION} dataset")
        self._shards = self.manifest["shards"]
        self._starts = np.array([s["start"] for s in self._shards])
        self._open: dict[str, tuple] = {}

    def __len__(self) -> int:
        return int(self.manifest["count"])

    def _handle(self, shard: dict):
        from safetensors import safe_open

        name = shard["file"]
        if name not in self._open:
            handle = safe_open(str(self.root / name), framework="np")
            meta = json.loads(handle.metadata()["samples"])
            offsets = {k: handle.get_tensor(k) for k in handle.keys() if k.endswith(".offsets")}
            self._open[name] = (handle, meta, offsets)
        return self._open[name]

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} out of range [0, {len(self)})")
        index %= len(self)
        shard = self._shards[int(np.searchsorted(self._starts, index, side="right") - 1)]
        handle, meta, offsets = self._handle(shard)
        row = index - shard["start"]
        item = {name: handle.get_slice(name)[row] for name in FIXED}
        for name in RAGGED:
            if f"{name}.offsets" in offsets:
                a, b = offsets[f"{name}.offsets"][row:row + 2]
                item[name] = handle.get_slice(name)[int(a):int(b)]
        item.update(meta[row])
        return item

    def watertight_mesh(self, index: int) -> MeshPayload:
        """The sample's watertight SDF mesh in metres (z up), per-face part ids and part materials."""
        item = self[index]
        positions = item["mesh_vertices"] / item["scale"] + item["center"]
        return MeshPayload.from_triangles(positions, item["mesh_faces"], part_ids=item["mesh_face_labels"],
                                          part_names=item["part_names"],
                                          part_materials=list(range(len(item["materials"]))),
                                          materials=[Material.from_json(m) for m in item["materials"]])

    def artist_mesh(self, index: int) -> MeshPayload:
        """The sample's low-poly artist mesh in metres (z up), with parts, materials and UVs."""
        item = self[index]
        positions = item["artist_positions"] / item["scale"] + item["center"]
        return MeshPayload(positions=positions.astype(np.float32), face_sizes=item["artist_face_sizes"],
                           face_indices=item["artist_face_indices"], corner_uvs=item["artist_corner_uvs"],
                           part_ids=item["artist_part_ids"], part_names=item["part_names"],
                           part_materials=list(range(len(item["materials"]))),
                           materials=[Material.from_json(m) for m in item["materials"]])
