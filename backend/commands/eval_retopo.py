"""`kiln-backend eval retopo DIR --faces N`: run retopo on every mesh in a folder, print a table.

Columns: faces out, face-count error, quad ratio, Hausdorff and Chamfer distance (% of the input's
bounding-box diagonal), singular vertices, Euler characteristic in -> out, boundary and
non-manifold edges, seconds, and what the op reported falling back to. Exit code 1 when any mesh
failed. ``--json FILE`` keeps every number; ``--out DIR`` writes each result (OBJ keeps quads).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from backend.commands.eval_group import eval_subcommands

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf")


def register(subparsers) -> None:
    parser = eval_subcommands(subparsers).add_parser(
        "retopo", help="retopologize every mesh in a folder and print quality metrics",
        description="Retopologize every mesh in DIR and print a table of quality metrics.")
    parser.add_argument("folder", metavar="DIR", help="folder of .obj/.ply/.off/.stl/.glb meshes")
    parser.add_argument("--faces", type=int, default=2000, help="target face count (default 2000)")
    parser.add_argument("--mode", choices=("quad", "lowpoly", "tri"), default="quad", help="retopo mode")
    parser.add_argument("--preserve-sharp", action="store_true", help="keep creases")
    parser.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    parser.add_argument("--out", metavar="DIR", help="write each result mesh here (.obj)")
    parser.set_defaults(func=run)


def evaluate_one(path: Path, faces: int, mode: str, preserve_sharp: bool) -> tuple[dict, object]:
    """Retopologize one file; returns (metrics row, result mesh or None)."""
    from backend.geometry.metrics import retopo_report, topology_stats
    from backend.meshio import read_mesh
    from backend.ops import retopo
    from backend.runtime import CancelToken, no_progress

    row: dict = {"mesh": path.name}
    started = time.perf_counter()
    try:
        mesh = read_mesh(path)
        row["faces_in"] = mesh.num_faces
        out = retopo.run({"mesh": mesh}, {"target_faces": faces, "mode": mode, "preserve_sharp": preserve_sharp},
                         no_progress, CancelToken())["mesh"]
    except Exception as exc:  # noqa: BLE001 - a failed mesh is a row in the table, not a crash
        row.update(status="FAILED", error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - started)
        return row, None
    row["seconds"] = time.perf_counter() - started
    row.update(retopo_report(out, mesh, faces))
    row["euler_in"] = topology_stats(mesh).euler
    fallbacks = [line for line in out.info.get("report", []) if "fell back" in line or "kept the closest" in line]
    row["status"] = "ok" if not fallbacks else "fallback"
    row["report"] = out.info.get("report", [])
    return row, out


def format_table(rows: list[dict]) -> str:
    """The rows as an aligned text table."""
    head = ("mesh", "faces", "err%", "quad%", "haus%", "chamf%", "sing", "euler", "bnd", "nm", "sec", "status")
    lines = [head]
    for r in rows:
        if r["status"] == "FAILED":
            lines.append((r["mesh"], "-", "-", "-", "-", "-", "-", "-", "-", "-", f"{r['seconds']:.1f}",
                          "FAILED " + r["error"][:60]))
            continue
        lines.append((r["mesh"], str(r["faces"]), f"{100 * r['face_count_error']:.1f}", f"{100 * r['quad_ratio']:.0f}",
                      f"{100 * r['hausdorff']:.2f}", f"{100 * r['chamfer']:.3f}", str(r["singular_vertices"]),
                      f"{r['euler_in']}->{r['euler']}", str(r["boundary_edges"]), str(r["nonmanifold_edges"]),
                      f"{r['seconds']:.1f}", r["status"]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def run(args) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: {folder} is not a folder")
        return 2
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in MESH_SUFFIXES)
    if not files:
        print(f"error: no {'/'.join(MESH_SUFFIXES)} files in {folder}")
        return 2
    out_dir = Path(args.out) if args.out else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, path in enumerate(files, 1):
        print(f"[{n}/{len(files)}] {path.name} ...", flush=True)
        row, result = evaluate_one(path, args.faces, args.mode, args.preserve_sharp)
        rows.append(row)
        if out_dir and result is not None:
            from backend.meshio import write_mesh
            write_mesh(out_dir / f"{path.stem}.retopo.obj", result)
    print(format_table(rows))
    failed = sum(r["status"] == "FAILED" for r in rows)
    print(f"{len(rows)} meshes, {failed} failed, target {args.faces} faces, mode {args.mode}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 1 if failed else 0
