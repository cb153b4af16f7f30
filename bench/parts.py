"""Part segmentation quality on the procedural engine's objects (ground-truth part labels).

Each asset is extracted as ONE watertight mesh (marching cubes over its SDF), so connected
components alone cannot split it; ``--variants`` also sends it as a user would after a quad
retopo (``retopo`` op, quad mode, 3000 faces) and after heavy decimation (1500 triangles).
Truth = the part nearest each face's centroid by the asset's own SDF, split into connected
instances (each leg its own part; slivers under 0.5% of the area are left out). Asset seeds
0..N-1 are below 1000: the learned model never trained on them. Matched mIoU (Hungarian,
area-weighted) per object for:
  baseline  k-means on face centroids with the true part count (a position-only split)
  geometric Kiln parts op, geometric engine, part count chosen by itself (the old auto)
  geom@k    geometric engine told the true count
  sdf@k     method sdf told the true count (marching-cubes variant only)
  convex    method convex (CoACD), only with --convex (slow)
  model     the learned part model (kiln-parts-s), count chosen by itself
  model@k   the learned part model told the true count
  auto      the op's default: the model's own split when its weakest part is sure
            (parts.MIN_PART_CONFIDENCE), else the hybrid (geometric parts named by the model)
  auto@k    the op's default told the true count (the hybrid: geometric parts, model names)
and each one's time relative to the baseline, measured in the same run. ``names`` is the share
of the surface whose matched predicted part carries the engine's name ("leg_2" counts as "leg").

``--genesis-wheel`` (a genesis-world wheel from ``pip download genesis-world --no-deps``; an
installed ``genesis`` package is used when present) adds the PartNet-Mobility bottle (id 3763)
it ships: three labelled meshes (body, neck, lid) as one object; truth = those three parts (its
meshes are soups of pieces, so connected pieces are not parts there).

    nice -n 10 .venv/bin/python bench/parts.py [--seeds 2] [--resolution 64] [--variants mc,quad,decimated]

``--speed`` instead times a 1M-face mesh (a procedural table subdivided) through the geometric
engine, the model path and auto, with the longest silence between progress reports.
"""
from __future__ import annotations

import argparse
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.geometry.mesh_graph import face_graph, split_into_connected  # noqa: E402
from backend.geometry.segmentation_metrics import iou_matrix, matched_miou  # noqa: E402
from backend.ops import parts, retopo  # noqa: E402
from backend.runtime import CancelToken  # noqa: E402
from backend.procedural.meshing import watertight_mesh  # noqa: E402
from backend.procedural.registry import categories, generate  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402

MODEL_COLUMNS = ("model", "model@k", "auto", "auto@k")


def instances(vertices, faces, labels, areas):
    """Engine labels split into connected pieces; slivers under 0.5% of the area are dropped."""
    graph = face_graph(vertices.astype(np.float64), faces)
    pieces = split_into_connected(labels, graph.pairs)
    share = np.bincount(pieces, weights=areas) / areas.sum()
    keep = share[pieces] >= 0.005
    return pieces, keep


def name_accuracy(predicted, predicted_names, truth, truth_names, areas) -> float:
    """Area share of true instances whose Hungarian-matched prediction carries the true name."""
    ious = iou_matrix(predicted, truth, areas)
    rows, cols = linear_sum_assignment(-ious)
    right = 0.0
    for r, c in zip(rows, cols):
        if ious[r, c] > 0 and predicted_names[r].rsplit("_", 1)[0] == truth_names[c]:
            right += areas[truth == c].sum()
    return float(right / areas.sum())


def variant(mesh: MeshPayload, kind: str) -> MeshPayload:
    """The marching-cubes mesh as a user might send it."""
    if kind == "quad":
        return retopo.run({"mesh": mesh}, {"target_faces": 3000, "mode": "quad"}, lambda *a: None,
                          CancelToken())["mesh"]
    if kind == "decimated":
        import fast_simplification
        tri = mesh.triangulated()
        v, f = fast_simplification.simplify(mesh.positions.astype(np.float64), tri.astype(np.int32),
                                            target_count=1500)
        return MeshPayload.from_triangles(v, f)
    return mesh


class Case:
    """One object as sent (polygons), triangulated for the metric, with truth per triangle."""

    def __init__(self, mesh: MeshPayload, tri_labels: np.ndarray, label_names: list[str], split: bool = True):
        self.mesh = mesh
        self.positions = mesh.positions.astype(np.float64)
        self.triangles = mesh.triangulated().astype(np.int64)
        tri = self.positions[self.triangles]
        self.areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        if split:
            self.truth, self.keep = instances(self.positions, self.triangles, tri_labels, self.areas)
        else:  # the labels are the parts (a mesh that is a soup of pieces)
            self.truth, self.keep = np.asarray(tri_labels, np.int64), np.ones(len(tri_labels), bool)
        ids, self.truth_kept = np.unique(self.truth[self.keep], return_inverse=True)
        first = {t: tri_labels[self.keep][self.truth[self.keep] == t][0] for t in ids}
        self.truth_names = [label_names[first[t]] for t in ids]
        self.k = len(ids)

    def score(self, tri_pred: np.ndarray, names: list[str] | None) -> tuple[float, float | None, int]:
        kept_ids, predicted = np.unique(tri_pred[self.keep], return_inverse=True)
        miou = matched_miou(predicted, self.truth_kept, self.areas[self.keep])
        named = None
        if names is not None:
            named = name_accuracy(predicted, [names[i] for i in kept_ids], self.truth_kept, self.truth_names,
                                  self.areas[self.keep])
        return miou, named, int(predicted.max()) + 1


def run_op(mesh: MeshPayload, **params) -> tuple[np.ndarray, list[str], dict]:
    out = parts.run({"mesh": mesh}, {"num_parts": 0, "method": "auto", "from_job": "", "merge": "", **params},
                    lambda *a: None, CancelToken())["mesh"]
    return out.part_ids[mesh.triangle_face_ids()], out.part_names, out.info["parts"]


def evaluate(case: Case, columns: tuple[str, ...]) -> dict:
    """{column: (miou, names or None, count, seconds, info)} for one case."""
    centroids = case.positions[case.triangles].mean(axis=1)
    found = {}
    for column in columns:
        start = time.perf_counter()
        names, info = None, {}
        if column == "baseline":
            pred = kmeans2(centroids, case.k, minit="++", seed=np.random.default_rng(0))[1]
        else:
            method = {"geometric": "geometric", "geom@k": "geometric", "sdf@k": "sdf", "convex": "convex",
                      "model": "model", "model@k": "model", "auto": "auto", "auto@k": "auto"}[column]
            count = case.k if column.endswith("@k") else 0
            pred, names, info = run_op(case.mesh, method=method, num_parts=count)
        spent = time.perf_counter() - start
        miou, named, count = case.score(pred, names)
        found[column] = (miou, named, count, spent, info)
    return found


def procedural_cases(seeds: int, resolution: int, kinds: list[str], only: list[str], first: int = 0):
    for name in only or categories():
        for seed in range(first, first + seeds):
            asset = generate(name, seed)
            vertices, faces, _ = watertight_mesh(asset, resolution)
            base = MeshPayload.from_triangles(vertices, faces)
            for kind in kinds:
                mesh = variant(base, kind)
                tri = mesh.positions.astype(np.float64)[mesh.triangulated()]
                labels = asset.labels(tri.mean(axis=1))
                yield kind, f"{name}{seed}", Case(mesh, labels, asset.part_names)


def genesis_bottle(wheel: str | None) -> Case | None:
    """The PartNet-Mobility bottle 3763 of genesis-world: body, neck and lid as one object, z up."""
    import trimesh

    root = "genesis/assets/urdf/3763/textured_objs/"
    files = {"body": "original-3.obj", "neck": "original-1.obj", "lid": "original-2.obj"}
    try:
        import genesis  # noqa: F401
        base = Path(genesis.__file__).parent / "assets/urdf/3763/textured_objs"
        read = {k: (base / v).read_bytes() for k, v in files.items()}
    except ImportError:
        if not wheel:
            return None
        with zipfile.ZipFile(wheel) as z:
            read = {k: z.read(root + v) for k, v in files.items()}
    import io
    pieces, labels = [], []
    for i, (name, data) in enumerate(read.items()):
        mesh = trimesh.load(io.BytesIO(data), file_type="obj", force="mesh", process=True)
        pieces.append(mesh)
        labels.append(np.full(len(mesh.faces), i))
    whole = trimesh.util.concatenate(pieces)
    # PartNet meshes are y up; the URDF turns them by rpy (pi/2, 0, -pi/2) into z up.
    c, s = np.cos(-np.pi / 2), np.sin(-np.pi / 2)
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    vertices = whole.vertices @ (rz @ rx).T
    mesh = MeshPayload.from_triangles(vertices, whole.faces)
    return Case(mesh, np.concatenate(labels), list(read), split=False)  # PartNet meshes are soups


def speed(resolution: int) -> int:
    """A 1M-face mesh through the geometric engine, the model path and auto: time and longest silence."""
    from backend.geometry.decimate import subdivide_to

    vertices, faces, _ = watertight_mesh(generate("table", 0), resolution)
    vertices, faces = subdivide_to(vertices, faces, 1_000_000)
    mesh = MeshPayload.from_triangles(vertices, faces)
    print(f"table0 subdivided: {len(faces)} triangles")
    for method in ("geometric", "model", "auto"):
        stamps = [time.perf_counter()]
        start = stamps[0]
        out = parts.run({"mesh": mesh}, {"num_parts": 0, "method": method, "from_job": "", "merge": ""},
                        lambda *a: stamps.append(time.perf_counter()), CancelToken())["mesh"]
        stamps.append(time.perf_counter())
        gap = float(np.diff(stamps).max())
        print(f"{method:<10} {stamps[-1] - start:8.1f} s   longest silence {gap:6.2f} s   {len(out.part_names)} parts"
              f"   path {out.info['parts'].get('path')}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0, help="tune on other seeds than the bench's (< 1000)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--variants", default="mc", help="comma list of mc, quad, decimated")
    parser.add_argument("--convex", action="store_true", help="also run CoACD (slow)")
    parser.add_argument("--no-sdf", action="store_true", help="leave out the sdf@k column")
    parser.add_argument("--categories", default="", help="comma list (default: all)")
    parser.add_argument("--genesis-wheel", default=None, help="genesis-world wheel holding the PartNet bottle")
    parser.add_argument("--speed", action="store_true", help="time a 1M-face mesh instead")
    parser.add_argument("--models", default=None, help="models folder with other kiln-parts checkpoints")
    parser.add_argument("--columns", default="", help="comma list: run only these columns (baseline always runs)")
    args = parser.parse_args()
    from backend.models.registry import configure
    registry = configure(args.models)
    if args.speed:
        return speed(args.resolution)
    model = registry.default_name("parts")
    print(f"part model: {model or 'none (model columns skipped)'}")
    columns = ("baseline", "geometric", "geom@k") + (() if args.no_sdf else ("sdf@k",))
    columns += ("convex",) if args.convex else ()
    columns += MODEL_COLUMNS if model else ()
    if args.columns:
        wanted = set(args.columns.split(",")) | {"baseline"}
        columns = tuple(c for c in columns if c in wanted)
    kinds = args.variants.split(",")
    rows: dict[str, list[dict]] = {k: [] for k in kinds}

    def show(kind, label, case, found):
        cells = "".join(f"{found[c][0]:>9.3f}" if c in found else f"{'':>9}" for c in columns)
        names = "".join(f"{found[c][1]:>7.2f}" for c in ("geometric", "model", "auto", "auto@k") if c in found)
        counts = " ".join(str(found[c][2]) for c in ("geometric", "model", "auto") if c in found)
        path = found["auto"][4].get("path", "") if "auto" in found else ""
        print(f"{kind:<10}{label:<12}{len(case.triangles):>7}{case.k:>4}{cells}{names}   {counts}  {path}", flush=True)

    print(f"{'variant':<10}{'object':<12}{'tris':>7}{'k':>4}" + "".join(f"{c:>9}" for c in columns)
          + "  names: geometric / model / auto / auto@k   counts: geometric model auto   auto's path")
    for kind, label, case in procedural_cases(args.seeds, args.resolution, kinds,
                                                [c for c in args.categories.split(",") if c], args.first_seed):
        found = evaluate(case, tuple(c for c in columns if not (c == "sdf@k" and kind != "mc")))
        rows[kind].append(found)
        show(kind, label, case, found)
    for kind in kinds:
        found = rows[kind]
        if not found:
            continue
        present = [c for c in columns if c in found[0]]
        print(f"{kind:<10}{'mean mIoU':<23}" + "".join(f"{np.mean([f[c][0] for f in found]):>9.3f}" for c in present))
        for c in ("geometric", "model", "auto", "auto@k"):
            if c in found[0]:
                print(f"{kind:<10}names {c:<17}{np.mean([f[c][1] for f in found]):>9.3f}")
        base = max(sum(f["baseline"][3] for f in found), 1e-9)
        print(f"{kind:<10}{'time vs baseline':<23}" + "".join(f"{sum(f[c][3] for f in found) / base:>8.1f}x" for c in present))
        print(f"{kind:<10}{'seconds':<23}" + "".join(f"{sum(f[c][3] for f in found):>9.1f}" for c in present))
        if "auto" in found[0]:
            used = sum(f["auto"][4].get("path") == "model" for f in found)
            print(f"{kind:<10}auto took the model's own split on {used} of {len(found)} objects, the hybrid on the rest")
    bottle = genesis_bottle(args.genesis_wheel)
    if bottle is None:
        print("genesis bottle: skipped (genesis-world not installed and no --genesis-wheel)")
    else:
        found = evaluate(bottle, tuple(c for c in columns if c != "convex"))
        show("partnet", "bottle3763", bottle, found)
        for c in ("geometric", "model", "auto", "auto@k"):
            if c in found:
                print(f"bottle {c}: names {found[c][4].get('names')} (truth {bottle.truth_names})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
