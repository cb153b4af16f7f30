"""`kiln-backend reconstruct IN -o OUT`: encode a mesh with the shape VAE and decode it again.

A watertight remesher (the output is a closed SDF level set) and the VAE's honest test: what
comes out is what the latent tokens remember of the input.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("reconstruct", help="encode + decode a mesh with the shape VAE (watertight remesh)",
                                   description="Encode a mesh into the shape VAE's latent tokens and decode it "
                                               "back to a watertight mesh in the input's frame.")
    parser.add_argument("input", type=Path, help="mesh file (.glb .gltf .obj .ply .off .stl)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output mesh (.glb .obj .ply)")
    parser.add_argument("--model", default="kiln-shape-s",
                        help="model name, kiln-shape checkpoint stem or `train vae` run stem (default: kiln-shape-s)")
    parser.add_argument("--models", type=Path, default=None, help="folder with extra model checkpoints")
    parser.add_argument("--resolution", type=int, default=128, help="extraction cells per axis (default 128)")
    parser.add_argument("--tokens", type=int, default=None, help="latent tokens (default: the model's)")
    parser.add_argument("--face-budget", type=int, default=None, help="simplify to at most this many triangles")
    parser.add_argument("--level", type=float, default=None,
                        help="iso-level of the decoded SDF (default: the model's calibrated level, else 0)")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto")
    parser.set_defaults(func=run)


def run(args) -> int:
    from backend.meshio import MeshIOError, read_mesh, write_mesh
    from backend.models.checkpoint import CheckpointError
    from backend.models.device import pick_device
    from backend.models.shape_reconstruct import Autoencoder, triangles_of
    from shared.payload import MeshPayload

    try:
        mesh = read_mesh(args.input)
        vertices, faces = triangles_of(mesh)
        auto = Autoencoder.load(args.model, args.models, pick_device(args.device))
        if args.level is not None:
            auto.level = args.level
        start = time.perf_counter()
        out_v, out_f = auto.reconstruct(vertices, faces, args.resolution, args.tokens, face_budget=args.face_budget)
        path = write_mesh(args.out, MeshPayload.from_triangles(out_v, out_f, info={"name": args.input.stem}))
    except (MeshIOError, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}: {len(out_v)} vertices, {len(out_f)} triangles in {time.perf_counter() - start:.1f} s")
    return 0
