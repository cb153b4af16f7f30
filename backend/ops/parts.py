"""The ``parts`` op: split a mesh into named parts (per-face part ids + part names).

Connected components come first; a single connected mesh (or any component big enough to
matter) is then split geometrically: spectral clustering of a crease-weighted face graph with
shape-diameter features and a graph cut (method ``sdf``), or approximate convex decomposition
with CoACD (method ``convex``). Names come from each part's shape and position.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from shared.protocol import ParamSpec

from backend.geometry.component_groups import face_components, group_components
from backend.geometry.convex_parts import convex_labels
from backend.geometry.isolated import IsolatedFailure
from backend.geometry.part_naming import describe_parts, name_parts
from backend.geometry.segmentation import MAX_AUTO_PARTS, segment_component

from .base import CancelToken, InputSpec, OpError, ProgressFn, input_mesh, sub_progress

NAME = "parts"
RESOURCE = "cpu"
SUMMARY = "Split a mesh into named parts: connected components, then shape-aware segmentation."
INPUTS = {"mesh": InputSpec("mesh", required=True, help="the mesh to split")}
METHODS = ("auto", "components", "creases", "sdf", "convex")
MAX_PARTS = 64
SPLIT_SHARE = 0.2    # auto: components with at least this share of the area are split further
MIN_SPLIT_SHARE = 0.02  # sdf/convex: smaller components are not worth splitting
DEBRIS_SHARE = 0.001  # auto: components below this share join their nearest neighbour


def params_schema() -> list[ParamSpec]:
    return [
        ParamSpec("num_parts", "int", 0, "number of parts; 0 = decide from the shape", minimum=0, maximum=MAX_PARTS),
        ParamSpec("method", "choice", "auto",
                  "auto: components, then split big ones along creases (thin/thick parts on smooth shapes); "
                  "components: connected pieces only; creases: merge faces across weak boundaries; "
                  "sdf: spectral + shape-diameter graph cut; convex: approximate convex decomposition (CoACD)",
                  choices=list(METHODS)),
    ]


def available() -> tuple[bool, str]:
    return True, ""



def _split_component(positions, triangles, method: str, parts: int, cancel: CancelToken, report) -> np.ndarray:
    if method == "convex":
        return convex_labels(positions, triangles, parts, check=cancel.check)
    return segment_component(positions, triangles, parts, check=cancel.check, report=report, method=method)


def split_mesh(positions: np.ndarray, triangles: np.ndarray, num_parts: int, method: str,
               progress: ProgressFn, cancel: CancelToken) -> tuple[np.ndarray, list[str]]:
    """Per-triangle labels (0..n-1) and notes on what was done."""
    notes: list[str] = []
    progress(0.02, "connected components", f"{len(triangles)} triangles")
    comp = face_components(positions, triangles)
    num_comp = int(comp.max()) + 1
    notes.append(f"{num_comp} connected component{'s' if num_comp != 1 else ''}")
    progress(0.08, "connected components", notes[-1])
    cancel.check()
    if method == "components" or (method == "auto" and num_parts and num_parts <= num_comp):
        target = num_parts or MAX_AUTO_PARTS
        labels = group_components(comp, positions, triangles, target, DEBRIS_SHARE if not num_parts else 0.0)
        if num_parts and num_parts > num_comp:
            notes.append(f"only {num_comp} components: asked for {num_parts} parts; use method sdf or convex to split")
        return labels, notes
    tri_area = 0.5 * np.linalg.norm(np.cross(positions[triangles[:, 1]] - positions[triangles[:, 0]],
                                             positions[triangles[:, 2]] - positions[triangles[:, 0]]), axis=1)
    share = np.bincount(comp, weights=tri_area) / max(float(tri_area.sum()), 1e-30)
    order = np.argsort(-share)
    if num_parts:
        # Split only the largest component(s) so the total reaches the requested count.
        extra = num_parts - len(share)
        budget = {int(order[0]): max(extra + 1, 1)} if extra > 0 else {}
    else:
        floor = SPLIT_SHARE if method == "auto" else MIN_SPLIT_SHARE
        budget = {int(c): 0 for c in order if share[c] >= floor}
    engine = {"convex": "CoACD convex decomposition", "sdf": "spectral + shape-diameter graph cut",
              "creases": "crease region merging"}.get(method, "creases / shape-diameter classes")
    labels = np.zeros(len(triangles), dtype=np.int64)
    next_label = 0
    for step, c in enumerate(order):
        cancel.check()
        mask = comp == c
        if int(c) in budget and mask.sum() >= 4:
            report = sub_progress(progress, 0.1 + 0.8 * step / len(order), 0.1 + 0.8 * (step + 1) / len(order))
            sub = _split_component(positions, triangles[mask], method, budget[int(c)], cancel,
                                   lambda f, m: report(f, "segmenting", m))
            labels[mask] = sub + next_label
            next_label += int(sub.max()) + 1
            if sub.max() > 0:
                notes.append(f"component of {share[c]:.0%} of the area split into {int(sub.max()) + 1} by {engine}")
        else:
            labels[mask] = next_label
            next_label += 1
    if num_parts and next_label > num_parts:
        labels = group_components(labels, positions, triangles, num_parts)
    elif not num_parts and method in ("auto", "sdf"):
        # Debris joins what it touches; at most MAX_AUTO_PARTS parts come out of auto mode.
        labels = group_components(labels, positions, triangles, MAX_AUTO_PARTS, DEBRIS_SHARE)
    _, labels = np.unique(labels, return_inverse=True)
    return labels.astype(np.int64), notes


def find_parts(mesh, num_parts: int, method: str, progress: ProgressFn,
               cancel: CancelToken) -> tuple[np.ndarray, list[str], list[str]]:
    """Per-face part ids (F,), part names and notes for ``mesh``.

    The one entry point other ops (``texture``) use to split a mesh that has no parts, so a
    learned part model plugs in here for all of them.
    """
    positions = mesh.positions.astype(np.float64)
    triangles = mesh.triangulated().astype(np.int64)
    try:
        tri_labels, notes = split_mesh(positions, triangles, num_parts, method, progress, cancel)
    except IsolatedFailure as exc:
        raise OpError(f"convex decomposition failed ({exc}); try method 'sdf'") from None
    cancel.check()
    progress(0.92, "naming parts")
    first_triangle = np.concatenate([[0], np.cumsum(np.maximum(mesh.face_sizes.astype(np.int64) - 2, 0))])[:-1]
    face_labels = tri_labels[first_triangle]
    _, face_labels = np.unique(face_labels, return_inverse=True)
    count = int(face_labels.max()) + 1
    tri_final = face_labels[mesh.triangle_face_ids()]
    names = name_parts(describe_parts(positions, triangles, tri_final, count))
    return face_labels.astype(np.int32), names, notes


def run(inputs: dict, params: dict, progress: ProgressFn, cancel: CancelToken) -> dict:
    """Split ``inputs['mesh']``; returns ``{'mesh': mesh with part_ids and part_names}``."""
    mesh = input_mesh(inputs, NAME)
    num_parts = int(params.get("num_parts") or 0)
    method = params.get("method") or "auto"
    if method not in METHODS:
        raise OpError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if not 0 <= num_parts <= MAX_PARTS:
        raise OpError(f"num_parts must be between 0 and {MAX_PARTS}")
    progress(0.0, "preparing", f"{mesh.num_faces} faces")
    face_labels, names, notes = find_parts(mesh, num_parts, method, progress, cancel)
    count = len(names)
    info = dict(mesh.info)
    info["parts"] = {"method": method, "count": count, "names": names, "report": "; ".join(notes)}
    out = dataclasses.replace(mesh, part_ids=face_labels, part_names=names,
                              part_materials=[0] * count if mesh.materials else [], info=info)
    progress(1.0, "done", f"{count} parts: {', '.join(names[:8])}{'...' if count > 8 else ''}")
    return {"mesh": out}
