"""The ``parts`` op: split a mesh into named parts (per-face part ids + part names).

Method ``model`` (and ``auto`` when a part model is registered): the learned part model
(``backend.models.parts_pipeline``): one network pass over surface samples gives features and
part names; clusters of the features are carried to the faces by a crease-following graph cut.
The features are kept with the job, so a later job with ``from_job`` re-splits (another count,
or two parts merged) without the network. ``auto`` takes the model's own split when it has two or more
parts and every part's name is sure; otherwise, and whenever it is told the part count, the *hybrid*: the geometric
engine's parts named by the model (touching parts it gives one name and close features joined).
With no model loaded, ``auto`` is the geometric engine. A re-split keeps the names the user
gave (param ``names``) on parts that still exist.

Geometric engine: connected components come first; a single connected mesh (or any component big enough to
matter) is then split geometrically: spectral clustering of a crease-weighted face graph with
shape-diameter features and a graph cut (method ``sdf``), or approximate convex decomposition
with CoACD (method ``convex``). Names come from each part's shape and position.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from shared.protocol import ParamSpec

from backend.geometry.component_groups import face_components, group_components
from backend.geometry.convex_parts import convex_labels
from backend.geometry.isolated import IsolatedFailure
from backend.geometry.part_naming import carry_renames, describe_parts, name_parts
from backend.geometry.segmentation import MAX_AUTO_PARTS, segment_component

from .base import CancelToken, InputSpec, JobCache, OpError, ProgressFn, input_mesh, sub_progress

NAME = "parts"
RESOURCE = "cpu"
SUMMARY = "Split a mesh into named parts: connected components, then shape-aware segmentation."
INPUTS = {"mesh": InputSpec("mesh", required=False,
                           help="the mesh to split (optional with from_job: the earlier job's mesh is used)")}
METHODS = ("auto", "model", "geometric", "components", "creases", "sdf", "convex")
MIN_PART_CONFIDENCE = 0.7  # auto: the model's own split only when every part's name is this sure, else hybrid
# (chosen on held-out seed 2, never trained on nor benched: auto 0.615 mc / 0.634 decimated vs the model's own
# 0.577 / 0.632; 0.5 scored higher there, 0.668 decimated, but kept the PartNet bottle, weakest part 0.66)
MODEL_FULL_FACES = 60000   # model path: bigger meshes are cut on a decimated proxy, labels copied back
MODEL_PROXY_FACES = 40000
MAX_PARTS = 64
SPLIT_SHARE = 0.2    # auto: components with at least this share of the area are split further
MIN_SPLIT_SHARE = 0.02  # sdf/convex: smaller components are not worth splitting
DEBRIS_SHARE = 0.001  # auto: components below this share join their nearest neighbour


def params_schema() -> list[ParamSpec]:
    return [
        ParamSpec("num_parts", "int", 0, "number of parts; 0 = decide from the shape", minimum=0, maximum=MAX_PARTS),
        ParamSpec("method", "choice", "auto",
                  "auto: the part model when it is sure of every part, else (and when num_parts is set) "
                  "the geometric engine's parts named by the model; geometric when no model is loaded; "
                  "model: the learned part model (point features + part names, graph cut to faces); "
                  "geometric: components, then split big ones along creases (thin/thick parts on smooth shapes); "
                  "components: connected pieces only; creases: merge faces across weak boundaries; "
                  "sdf: spectral + shape-diameter graph cut; convex: approximate convex decomposition (CoACD)",
                  choices=list(METHODS)),
        ParamSpec("from_job", "str", "", "re-split the result of this earlier parts job from the features "
                  "the server kept (no network pass); the mesh input may then be left out", max_length=64),
        ParamSpec("merge", "str", "", "with from_job: two part indices 'a,b' of that result to join", max_length=32),
        ParamSpec("names", "str", "", "with from_job: the names the user gave that result's parts, as JSON "
                  "{\"index\": \"name\"}; a renamed part that still exists (mostly the same faces) keeps its name",
                  max_length=8192),
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


def _merge_pair(text: str, count: int) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in text.split(","))
    except ValueError:
        raise OpError(f"merge must be two part indices like '2,5', got {text!r}") from None
    if a == b or not (0 <= a < count and 0 <= b < count):
        raise OpError(f"merge needs two different part indices between 0 and {count - 1}, got {text!r}")
    return a, b


def _given_names(text: str, count: int) -> dict[int, str]:
    """The ``names`` param: {earlier part index: the name the user sees}."""
    try:
        given = json.loads(text)
        if not isinstance(given, dict):
            raise ValueError
        given = {int(k): v for k, v in given.items()}
    except ValueError:
        raise OpError('names must be a JSON object of part index to name, like {"0": "left leg"}') from None
    if not all(isinstance(v, str) and len(v) <= 64 for v in given.values()):
        raise OpError("names must be strings of at most 64 characters")
    if any(not 0 <= k < count for k in given):
        raise OpError(f"names has a part index outside 0..{count - 1}")
    return given


def _part_model(method: str):
    """(model name, loaded model) for the learned path, or (None, None) when auto has none."""
    from backend.models.registry import get_registry

    registry = get_registry()
    name = registry.default_name("parts")
    if name is None:
        if method == "model":
            raise OpError("no part model is installed (backend/weights/kiln-parts-s missing); use method auto")
        return None, None
    return name, registry.get(name)


def learned_split(mesh, positions, triangles, params, progress, cancel):
    """(triangle labels, names, info, cache) from the part model, alone (path ``model``) or naming
    the geometric engine's segments (path ``hybrid``); None when auto has no model."""
    from backend.geometry.mesh_graph import face_graph, weld
    from backend.geometry.part_clusters import nearest_faces, proxy_in_child
    from backend.models.parts_pipeline import MAX_PARTS as MODEL_MAX, embed_mesh, parts_from_cache

    method, num_parts = params.get("method") or "auto", int(params.get("num_parts") or 0)
    cache = inputs_cache = params.get("_cache")
    model_name = None
    if cache is None:
        model_name, model = _part_model(method)
        if model is None:
            return None
        progress(0.1, "part model", f"{model_name}: sampling and embedding {len(triangles)} triangles")
        def embedding() -> None:
            cancel.check()
            progress(0.2, "part model", f"{model_name}: network pass")
        cache = embed_mesh(model, positions, triangles, embedding)
    cancel.check()
    big = len(triangles) > MODEL_FULL_FACES
    progress(0.4, "part graph", f"decimated proxy of {MODEL_PROXY_FACES} faces" if big else "dual graph of the mesh")
    if big:
        graph_pos, graph_tri = proxy_in_child(positions, triangles, MODEL_PROXY_FACES, cancel,
                                              sub_progress(progress, 0.4, 0.45))
    else:
        graph_pos, graph_tri = weld(positions, triangles)
    cancel.check()
    progress(0.45, "part graph", f"{len(graph_tri)} faces")
    graph = face_graph(graph_pos, graph_tri)
    cancel.check()
    progress(0.47, "part graph", "sample points to faces")
    point_faces = nearest_faces(graph.centroids, cache["points"]) if big else None
    centroids = positions[triangles].mean(axis=1)
    previous = merge = None
    if params.get("merge"):
        if mesh.part_ids is None:
            raise OpError("merge needs the earlier result's parts; from_job gives them")
        previous = mesh.part_ids.astype(np.int64)[mesh.triangle_face_ids()]
        merge = _merge_pair(params["merge"], int(previous.max()) + 1)
        if big:
            progress(0.48, "part graph", "matching faces")
            previous = previous[nearest_faces(centroids, graph.centroids, cancel.check)]
    earlier = (mesh.info.get("parts") or {}).get("path") if inputs_cache is not None else None
    told_count = (method == "auto" and num_parts and merge is None and (inputs_cache is None or earlier == "hybrid"))
    said = ["clustering"]

    def report(message: str) -> None:
        said[0] = message
        progress(0.5, "clustering", message)

    def tick() -> None:  # inside the graph cut: cancel, and a sign of life
        cancel.check()
        progress(0.5, "clustering", said[0])

    found = weakest = None
    if not told_count:
        found = parts_from_cache(graph, cache, min(num_parts, MODEL_MAX), tick, previous, merge, point_faces, report)
        weakest = min(found.part_confidence)
    path, why = "model", ""
    one_part = found is not None and len(found.names) == 1  # says nothing of where parts are: check the geometry
    if method == "auto" and merge is None and (told_count or (inputs_cache is None and (
            weakest < MIN_PART_CONFIDENCE or one_part))):
        path = "hybrid"
        reason = ("told the count" if told_count else "model's own split is one part" if one_part else
                  f"model's own split unsure (weakest part {weakest:.2f} < {MIN_PART_CONFIDENCE})")
        why = f"{reason}: the geometric engine's parts, named by the model"
        progress(0.5, "hybrid", why)
        found = _hybrid(graph, graph_pos, graph_tri, cache, num_parts, point_faces, progress, cancel, found)
    if big:
        def carry() -> None:
            cancel.check()
            progress(0.88, "clustering", "labels back to every face")
        tri_labels = found.labels[nearest_faces(graph.centroids, centroids, carry)]
    else:
        tri_labels = found.labels
    info = {"path": path, "model": model_name or "cached features", "confidence": round(found.confidence, 3),
            "part_confidence": [round(c, 3) for c in found.part_confidence], "clusters": found.clusters,
            "reused_features": inputs_cache is not None, "report": "; ".join(n for n in (why, found.note) if n)}
    if weakest is not None:
        info["model_weakest_part"] = round(weakest, 3)
    return tri_labels, found.names, info, cache


def _hybrid(graph, graph_pos, graph_tri, cache, num_parts, point_faces, progress, cancel, model_parts=None):
    """Parts on the faces of ``graph`` (the mesh, or its proxy when big): the geometric engine's
    (``num_parts`` of them when given, else its own count, with touching same-name parts of close
    features joined and wide-spread parts cut along the model's own sure parts ``model_parts``), named
    by the model where it is sure and by the shape rules elsewhere."""
    from backend.geometry.part_naming import shape_names
    from backend.models.parts_pipeline import name_segments

    segments, _ = split_mesh(graph_pos, graph_tri, num_parts, "auto", sub_progress(progress, 0.5, 0.85), cancel)
    progress(0.86, "hybrid", "naming the geometric parts")

    def by_shape(labels: np.ndarray) -> list[str | None]:
        return shape_names(describe_parts(graph_pos, graph_tri, labels, int(labels.max()) + 1))

    return name_segments(graph, segments, cache, point_faces, merge=not num_parts, fallback=by_shape,
                         check=cancel.check, model_parts=None if num_parts else model_parts)


@dataclasses.dataclass
class FoundParts:
    """What a split found: per-face part ids (F,), names, notes, the path's info, kept features."""

    part_ids: np.ndarray
    names: list[str]
    notes: list[str]
    info: dict
    cache: dict | None = None


def find_parts(mesh, num_parts: int, method: str, progress: ProgressFn, cancel: CancelToken,
               params: dict | None = None, cached: JobCache | None = None) -> FoundParts:
    """Split ``mesh`` into named parts: the learned model or the hybrid (``auto``/``model``, or
    ``cached`` features of an earlier job), else the geometric engine.

    The one entry point other ops (``texture``) use to split a mesh that has no parts.
    """
    positions = mesh.positions.astype(np.float64)
    triangles = mesh.triangulated().astype(np.int64)
    if len(triangles) == 0:
        raise OpError("the mesh has no faces (a point cloud?); parts needs a surface")
    params = dict(params or {}, num_parts=num_parts, method=method)
    progress(0.01, "preparing", f"{len(triangles)} triangles")
    learned = None
    if isinstance(cached, JobCache) or method == "model" or (method == "auto" and len(triangles) >= 4):
        p = dict(params, _cache=cached.arrays if isinstance(cached, JobCache) else None)
        learned = learned_split(mesh, positions, triangles, p, progress, cancel)
    cache = None
    if learned is not None:
        tri_labels, tri_names, learned_info, cache = learned
        notes = [learned_info.pop("report")] if learned_info.get("report") else []
    else:
        try:
            engine = "auto" if method in ("auto", "model", "geometric") else method
            tri_labels, notes = split_mesh(positions, triangles, num_parts, engine, progress, cancel)
        except IsolatedFailure as exc:
            raise OpError(f"convex decomposition failed ({exc}); try method 'sdf'") from None
        learned_info = {"path": "geometric"}
    cancel.check()
    progress(0.92, "naming parts")
    first_triangle = np.concatenate([[0], np.cumsum(np.maximum(mesh.face_sizes.astype(np.int64) - 2, 0))])[:-1]
    face_labels = tri_labels[first_triangle]
    kept, face_labels = np.unique(face_labels, return_inverse=True)
    count = int(face_labels.max()) + 1
    tri_final = face_labels[mesh.triangle_face_ids()]
    if learned is not None:
        names = [tri_names[int(k)] for k in kept]
    else:
        names = name_parts(describe_parts(positions, triangles, tri_final, count))
    return FoundParts(face_labels.astype(np.int32), names, notes, learned_info, cache)


def run(inputs: dict, params: dict, progress: ProgressFn, cancel: CancelToken) -> dict:
    """Split ``inputs['mesh']``; returns ``{'mesh': mesh with part_ids and part_names, 'cache': JobCache}``
    (the cache only from the model path)."""
    mesh = input_mesh(inputs, NAME)
    num_parts = int(params.get("num_parts") or 0)
    method = params.get("method") or "auto"
    if method not in METHODS:
        raise OpError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if not 0 <= num_parts <= MAX_PARTS:
        raise OpError(f"num_parts must be between 0 and {MAX_PARTS}")
    cached = inputs.get("cache")
    if params.get("from_job") and not isinstance(cached, JobCache):
        raise OpError("from_job re-splits from features the server kept: submit it to a server")
    if (params.get("merge") or params.get("names")) and not params.get("from_job"):
        raise OpError("merge and names refer to an earlier result: give its job id as from_job")
    progress(0.0, "preparing", f"{mesh.num_faces} faces")
    found = find_parts(mesh, num_parts, method, progress, cancel, params,
                       cached if isinstance(cached, JobCache) else None)
    if params.get("names") and mesh.part_ids is not None:
        given = _given_names(params["names"], len(mesh.part_names))
        tri = mesh.positions.astype(np.float64)[mesh.triangulated()]
        areas = np.bincount(mesh.triangle_face_ids(), minlength=mesh.num_faces,
                            weights=0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1))
        found.names = carry_renames(mesh.part_ids, list(mesh.part_names), given, found.part_ids, found.names, areas)
    count = len(found.names)
    info = dict(mesh.info)
    info["parts"] = {"method": method, "count": count, "names": found.names, "report": "; ".join(found.notes),
                     **found.info}
    out = dataclasses.replace(mesh, part_ids=found.part_ids, part_names=found.names,
                              part_materials=[0] * count if mesh.materials else [], info=info)
    progress(1.0, "done", f"{count} parts: {', '.join(found.names[:8])}{'...' if count > 8 else ''}")
    outputs = {"mesh": out}
    if found.cache is not None:
        outputs["cache"] = JobCache(found.cache)
    return outputs
