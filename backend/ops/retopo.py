"""The ``retopo`` op: rebuild a mesh's faces at a target count.

Modes:
- ``quad``: field-aligned pure-quad remesh (QuadriFlow, falling back to Instant Meshes, an SDF
  remesh, then low-poly), per connected component, after repairing what remeshers reject.
- ``lowpoly``: QEM decimation, then triangles paired into quads by a matching over the whole
  mesh (or, where closer, near-planar regions each cut into quads); never more faces than the target (a quad counts as one face; pieces that cannot fit are
  dropped, smallest first, and the report says so).
- ``tri``: QEM decimation to exactly the target (midpoint subdivision first if it is higher).
- ``artist``: the learned artist-mesh transformer (registry capability ``retopo-artist``) writes a
  quad-dominant low-poly mesh; its result is checked (no degenerate, duplicate or stacked faces,
  consistent winding, manifold, closed where the input was closed, within the budget, within 5% of
  the diagonal of the input both ways). ``lowpoly`` always runs too and is handed back when a check
  fails, no model is installed, or the model's mesh is farther from the input than lowpoly's
  (Chamfer or Hausdorff over 1.25x lowpoly's plus 0.1% of the diagonal, same samples for both).
  The model is tried only for budgets up to ``ARTIST_MAX_BUDGET`` faces (it is trained on meshes
  of at most half that); a larger budget goes to lowpoly at once, saying so.
  ``info["path"]`` says which was kept, ``info["why"]`` why lowpoly was, and ``info["warning"]``
  puts that in front of the artist (the add-on shows a result's warning after the job).

Every connected piece is kept (bad input loses nothing) unless ``remove_debris`` asks to drop the
tiny ones. ``symmetry`` (none/x/y/z) remeshes the positive half and mirrors it across the plane
through the object's origin (the bounding-box centre when the mesh does not cross it). The
result's ``info["report"]`` lists, in order, every repair and fallback that happened.
"""
from __future__ import annotations

import numpy as np

from shared.payload import MeshPayload
from shared.protocol import ParamSpec

from backend.geometry import mesh_validity, repair
from backend.geometry.decimate import decimate, subdivide_to
from backend.geometry.killable import ChildFailure, prewarm
from backend.geometry.lowpoly import lowpoly
from backend.geometry.metrics import surface_distance
from backend.geometry.polymesh import bbox_diagonal, boundary_edge_count, payload_from_mixed
from backend.geometry.quad_remesh import JOBS, remesh_quads
from backend.geometry.symmetry import AXES, keep_half, mirror_plane, mirror_weld

from .base import CancelToken, InputSpec, OpError, ProgressFn, input_mesh, sub_progress

NAME = "retopo"
RESOURCE = "cpu"
SUMMARY = "Retopologize a mesh: clean quads, a low-poly quad/tri mix, or triangles at a target face count."
INPUTS = {"mesh": InputSpec("mesh", required=True, help="the mesh to rebuild (polygons or triangles)")}
MODES = ("quad", "lowpoly", "tri", "artist")
ARTIST_MAX_BUDGET = 300  # the model is tried only up to this face budget (trained on <= 150-face meshes)
ARTIST_TRIES = 3  # sampled tries (seeds 0, 1, ...); the valid one closest to the input is kept
ARTIST_TEMPERATURE = 0.8
ARTIST_TOP_P = 0.95
ARTIST_COVERAGE = 0.9  # share of the input near a written face before the model may end the mesh
ARTIST_WELD = 0.5 / 64  # weld distance after snapping, share of the longest side (half a model grid cell)
ARTIST_ASK = 0.5  # face count asked of the model, share of the budget: fewer, larger faces cover more of the input
ARTIST_MAX_DEVIATION = 0.05  # share of the diagonal the model's mesh may stray from the input, either way
ARTIST_STACK = 0.003  # share of the diagonal within which a face lying on another counts as stacked
ARTIST_MARGIN = 1.25  # the model's mesh is kept only within this factor of lowpoly's Chamfer and Hausdorff ...
ARTIST_SLACK = 0.001  # ... plus this share of the diagonal (so a near-exact lowpoly does not demand exactness)
ARTIST_SAMPLES = 20_000  # surface samples for that comparison, the same seeds for both meshes
DEBRIS_SHARE = 1e-4  # components under this share of the surface area are debris


def params_schema() -> list[ParamSpec]:
    return [
        ParamSpec("target_faces", "int", 2000, "number of faces wanted (quad/tri: within 10%; lowpoly: at most this)",
                  minimum=8, maximum=1_000_000),
        ParamSpec("mode", "choice", "quad", "quad: all-quad remesh; lowpoly: decimate + pair into quads; "
                  "tri: triangle decimation; artist: learned artist-style quad mesh for budgets up to "
                  f"{ARTIST_MAX_BUDGET} faces (falls back to lowpoly)",
                  choices=list(MODES)),
        ParamSpec("preserve_sharp", "bool", False, "keep creases (edges sharper than sharp_angle)"),
        ParamSpec("sharp_angle", "float", 35.0, "dihedral angle in degrees above which an edge is a crease",
                  minimum=1.0, maximum=179.0),
        ParamSpec("symmetry", "choice", "none", "mirror symmetry across the plane through the origin "
                  "perpendicular to this axis", choices=["none", *AXES]),
        ParamSpec("keep_topology", "bool", True, "keep the genus and holes of each piece (quad mode retries "
                  "another remesher when one changes them)"),
        ParamSpec("fill_holes", "bool", False, "close open holes before remeshing (MeshFix)"),
        ParamSpec("remove_debris", "bool", False, "drop loose pieces under 0.01% of the surface area (off: "
                  "every piece is kept, the tiny ones made low-poly)"),
    ]


def available() -> tuple[bool, str]:
    try:
        import pymeshlab  # noqa: F401
        import pynanoinstantmeshes  # noqa: F401
        import pyQuadriFlow  # noqa: F401
    except ImportError as exc:
        return False, f"missing {exc.name}: pip install -e ."
    return True, ""



def run(inputs: dict, params: dict, progress: ProgressFn, cancel: CancelToken) -> dict[str, MeshPayload]:
    """Rebuild ``inputs['mesh']`` at ``params['target_faces']``; see the module docstring."""
    mesh = input_mesh(inputs, NAME)
    defaults = {p.name: p.default for p in params_schema()}
    params = {**defaults, **params}
    report: list[str] = []
    progress(0.0, "repairing", f"{mesh.num_faces} faces in")
    prewarm(len(JOBS))  # remesher children start while the mesh is repaired
    if mesh.corner_uvs is not None or mesh.part_ids is not None:
        report.append("UVs and part ids dropped (retopology replaces every face)")

    def tick(fraction: float, step: str) -> None:
        cancel.check()
        progress(0.08 * fraction, "repairing", step)

    try:
        cleaned = repair.clean(*repair.triangulate(mesh.positions, mesh.face_sizes, mesh.face_indices), report, tick)
    except ValueError as exc:
        raise OpError(f"the mesh has nothing left to remesh: {exc}") from None
    cancel.check()

    target = int(params["target_faces"])
    axis = AXES.get(params["symmetry"])
    plane = 0.0
    if axis is not None:
        cleaned, plane = _positive_half(cleaned, axis, params["symmetry"], report)
        target = max(target // 2, 4)

    parts = _prepare_parts(cleaned, params, report, cancel)
    cancel.check()
    work = sub_progress(progress, 0.1, 0.95)
    mode = params["mode"]
    path = mode
    try:
        if mode == "artist":
            merged = _merge(parts)
            why = ""
            if target > ARTIST_MAX_BUDGET:
                found, why = None, (f"the artist model is tried only for budgets up to {ARTIST_MAX_BUDGET} faces "
                                    f"(its trained range); this one is {target}")
            else:
                found = _artist(merged, target, report, cancel, sub_progress(work, 0.0, 0.8))
            fallback: list[str] = []
            low = lowpoly(merged.vertices, merged.triangles, target, params["preserve_sharp"], params["sharp_angle"],
                          fallback, cancel, sub_progress(work, 0.8, 1.0))
            if not why:
                why = "no mesh from the artist model passed the checks" if found is None else _farther(found, low, merged)
            if why:
                path = "lowpoly (fallback)"
                v, tris, quads = low
                report.extend(fallback)
                report.append(f"lowpoly used instead: {why}")
            else:
                v, tris, quads = found
                report.append("artist model's mesh kept: no farther from the input than lowpoly's")
        elif mode == "quad":
            v, tris, quads = _quad(parts, target, params, report, cancel, work)
        elif mode == "lowpoly":
            merged = _merge(parts)
            v, tris, quads = lowpoly(merged.vertices, merged.triangles, target, params["preserve_sharp"],
                                     params["sharp_angle"], report, cancel, work)
        else:
            merged = _merge(parts)
            v, tris = _tri(merged, target, params, report, cancel, work)
            quads = np.zeros((0, 4), np.int64)
    except ChildFailure as exc:
        raise OpError(f"{mode} retopology failed: {exc}; try mode lowpoly or a different target") from None

    if axis is not None:
        v, quads, tris, seam = mirror_weld(v, quads, tris, axis, plane, snap=1e-4 * bbox_diagonal(v))
        report.append(f"mirrored; {seam} seam vertices welded")
    out = payload_from_mixed(v, tris, quads)
    out.materials = list(mesh.materials)
    out.part_materials = []
    report.append(f"{out.num_faces} faces ({len(quads)} quads, {len(tris)} triangles) for a target of "
                  f"{int(params['target_faces'])}")
    out.info = {"report": report, "mode": mode, "path": path}
    if mode == "artist" and path != "artist":
        out.info["why"] = why
        out.info["warning"] = f"the artist model's mesh was not used ({why}); this is lowpoly's mesh"
    progress(1.0, "done", report[-1])
    return {"mesh": out}


def _artist(mesh: repair.TriMesh, target: int, report: list[str], cancel: CancelToken, progress
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The artist model's mesh as (vertices, triangles, quads) when one passes every check, else
    None with the reason in ``report``."""
    from backend.models.kiln_artist import CAPABILITY
    from backend.models.registry import get_registry

    registry = get_registry()
    name = registry.default_name(CAPABILITY)
    if name is None:
        report.append("no artist model installed; lowpoly used instead")
        return None
    try:
        model = registry.get(name)
    except (OSError, ValueError) as exc:
        report.append(f"artist model {name} did not load ({exc}); lowpoly used instead")
        return None
    closed = boundary_edge_count(mesh.triangles) == 0
    diagonal = bbox_diagonal(mesh.vertices)
    min_area = (1e-5 * diagonal) ** 2
    span = 0.5 / ARTIST_TRIES
    how = f"sampled at temperature {ARTIST_TEMPERATURE}, top-p {ARTIST_TOP_P}, constrained"
    best = None
    for attempt in range(ARTIST_TRIES):
        step = sub_progress(progress, attempt * span, (attempt + 1) * span)
        result = model.rebuild(mesh.vertices, mesh.triangles, target, seed=attempt, temperature=ARTIST_TEMPERATURE,
                               top_p=ARTIST_TOP_P, constrained=True, coverage=ARTIST_COVERAGE, ask=ARTIST_ASK,
                               progress=lambda done, limit: step(done / limit, "artist", f"{done} tokens"),
                               cancel=cancel)
        cancel.check()
        v, faces, dropped = _artist_post_pass(result, mesh, min_area, diagonal)
        wrong = mesh_validity.problems(v, faces, target, closed, min_area)
        if faces and not wrong:
            stacked = mesh_validity.stacked_faces(v, faces, ARTIST_STACK * diagonal)
            if stacked:
                wrong.append(f"{stacked} faces stacked on other faces")
        if not result.complete:
            wrong.append("stopped at the model's length limit")
        if not wrong:
            cancel.check()
            off, missed = mesh_validity.deviation(v, faces, mesh.vertices, mesh.triangles)
            if off > ARTIST_MAX_DEVIATION:
                wrong.append(f"faces {off:.1%} of the diagonal away from the input")
            if missed > ARTIST_MAX_DEVIATION:
                wrong.append(f"input surface left out ({missed:.1%} of the diagonal at the 95th percentile)")
        if wrong:
            report.append(f"artist model {name} (try {attempt + 1}, {how}) result rejected: {'; '.join(wrong)}")
            continue
        cleaned = [f"{n} {kind}" for kind, n in dropped.items() if n]
        line = (f"artist model {name} (try {attempt + 1} of {ARTIST_TRIES}, {how}, {result.tokens} tokens, "
                f"{result.seconds:.1f} s; deviation {off:.2%}, coverage {missed:.2%} of the diagonal)"
                + (f"; post-pass dropped {', '.join(cleaned)} faces" if cleaned else ""))
        report.append(line.replace("artist model", "passed: artist model", 1))
        if best is None or off + missed < best[0]:
            best = (off + missed, v, faces, line)
    if best is None:
        return None
    _, v, faces, line = best
    report.append(f"kept {line}")
    tris = np.array([f for f in faces if len(f) == 3], np.int64).reshape(-1, 3)
    quads = np.array([f for f in faces if len(f) == 4], np.int64).reshape(-1, 4)
    return v, tris, quads


def _farther(found: tuple[np.ndarray, np.ndarray, np.ndarray], low: tuple[np.ndarray, np.ndarray, np.ndarray],
             mesh: repair.TriMesh) -> str:
    """Why the model's mesh is worse than lowpoly's (empty when it is not): Chamfer or Hausdorff to
    the input over ``ARTIST_MARGIN`` times lowpoly's plus ``ARTIST_SLACK`` of the diagonal."""
    reference = MeshPayload(positions=mesh.vertices, face_sizes=np.full(len(mesh.triangles), 3, np.int32),
                            face_indices=mesh.triangles.reshape(-1))
    model = surface_distance(payload_from_mixed(*found), reference, samples=ARTIST_SAMPLES)
    base = surface_distance(payload_from_mixed(*low), reference, samples=ARTIST_SAMPLES)
    worse = [(name, a, b) for name, a, b in (("Chamfer", model.chamfer, base.chamfer),
                                             ("Hausdorff", model.hausdorff, base.hausdorff))
             if a > ARTIST_MARGIN * b + ARTIST_SLACK]
    if not worse:
        return ""
    name, a, b = max(worse, key=lambda w: w[1] / max(w[2], 1e-4))
    ratio = f"{a / b:.1f}x " if b >= 1e-4 else ""  # no ratio against a lowpoly within 0.01% of the input
    return (f"model's mesh {ratio}farther than lowpoly's ({name} {a:.2%} vs {b:.2%} of the diagonal; "
            f"kept only within {ARTIST_MARGIN}x + {ARTIST_SLACK:.1%})")


def _artist_post_pass(result, mesh: repair.TriMesh, min_area: float, diagonal: float
                      ) -> tuple[np.ndarray, list[tuple[int, ...]], dict[str, int]]:
    """The model's mesh with its vertices snapped onto the input (when within the allowed
    deviation) and welded where they meet, degenerate, duplicate and edge-conflicting faces
    dropped, unused vertices gone."""
    if not result.faces:
        return result.positions, [], {}
    v = mesh_validity.snap_to_surface(result.positions, mesh.vertices, mesh.triangles,
                                      ARTIST_MAX_DEVIATION * diagonal)
    v, faces = mesh_validity.weld_close(v, result.faces, ARTIST_WELD * np.ptp(mesh.vertices, axis=0).max())
    v, faces, dropped = mesh_validity.cleanup(v, faces, min_area)
    faces, dropped["conflicting"] = mesh_validity.drop_conflicting(faces)
    v, faces, _ = mesh_validity.cleanup(v, faces, min_area)
    return v, faces, dropped


def _positive_half(mesh: repair.TriMesh, axis: int, name: str, report: list[str]) -> tuple[repair.TriMesh, float]:
    """The half of ``mesh`` on the positive side of its mirror plane, re-welded, and the plane."""
    plane, at_origin = mirror_plane(mesh.vertices, axis)
    v, t = keep_half(mesh.vertices, mesh.triangles, axis, plane)
    if len(t) == 0:
        raise OpError("nothing is on the positive side of the symmetry plane; choose another axis")
    report.append(f"symmetric across {name} = {plane:.4g}"
                  + ("" if at_origin else " (bounding-box centre: the mesh does not cross the origin)"))
    return repair.clean(v, t, []), plane  # the cut leaves each face its own vertices on the plane


def _prepare_parts(mesh: repair.TriMesh, params: dict, report: list[str], cancel: CancelToken) -> list[repair.TriMesh]:
    """Components, without debris when asked, holes filled when asked."""
    parts = repair.split_components(mesh)
    total = sum(p.area for p in parts)
    if params["remove_debris"] and len(parts) > 1:
        kept = [p for p in parts if p.area >= DEBRIS_SHARE * total]
        if len(kept) < len(parts):
            report.append(f"{len(parts) - len(kept)} debris pieces under {DEBRIS_SHARE:.2%} of the area removed")
        parts = kept or parts[:1]
    if params["fill_holes"]:
        filled = 0
        for i, part in enumerate(parts):
            cancel.check()
            if boundary_edge_count(part.triangles):
                try:
                    parts[i] = repair.TriMesh(*repair.fill_holes(part.vertices, part.triangles))
                    filled += 1
                except ValueError:
                    report.append("MeshFix could not close one piece; left open")
        if filled:
            report.append(f"holes closed in {filled} piece(s) (MeshFix)")
    return parts


def _merge(parts: list[repair.TriMesh]) -> repair.TriMesh:
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    return repair.TriMesh(np.concatenate([p.vertices for p in parts]),
                          np.concatenate([p.triangles + o for p, o in zip(parts, offsets)]))


def _budgets(parts: list[repair.TriMesh], target: int) -> list[int]:
    """Each part's share of ``target`` by area, rounded so they add up to the target."""
    areas = np.array([p.area for p in parts])
    exact = target * areas / areas.sum()
    budgets = np.floor(exact).astype(int)
    budgets[np.argsort(budgets - exact)[: target - budgets.sum()]] += 1
    return budgets.tolist()


def _quad(parts, target, params, report, cancel, progress):
    pieces = remesh_quads(parts, _budgets(parts, target), params["preserve_sharp"], params["sharp_angle"],
                          params["keep_topology"], report, cancel, progress)
    methods = sorted({p.method for p in pieces})
    report.append(f"quad remesh by {', '.join(methods)}")
    vs, ts, qs, offset = [], [], [], 0
    for piece in pieces:
        vs.append(piece.vertices)
        ts.append(piece.triangles.reshape(-1, 3) + offset)
        qs.append(piece.quads.reshape(-1, 4) + offset)
        offset += len(piece.vertices)
    return np.concatenate(vs), np.concatenate(ts), np.concatenate(qs)


def _tri(mesh: repair.TriMesh, target, params, report, cancel, progress):
    v, t = mesh.vertices, mesh.triangles
    if len(t) < target:
        v, t = subdivide_to(v, t, target)
        report.append(f"subdivided to {len(t)} triangles to reach the target")
    v, t = decimate(v, t, target, params["preserve_sharp"], report, cancel, progress)
    report.append(f"decimated to {len(t)} triangles (quadric error)")
    return v, t
