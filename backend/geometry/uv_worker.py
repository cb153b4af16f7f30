"""Child-process entry point: UV atlas with xatlas (see isolated.py; xatlas can crash on big meshes).

Input arrays ``positions`` (V,3) and ``triangles`` (T,3); output ``corner_uvs`` (T,3,2) in [0,1].
"""
from __future__ import annotations

import sys

import numpy as np


def main(argv: list[str]) -> int:
    import xatlas

    from backend.geometry.isolated import worker_io

    arrays, params, write = worker_io(argv)
    atlas = xatlas.Atlas()
    atlas.add_mesh(arrays["positions"].astype(np.float32), arrays["triangles"].astype(np.uint32))
    pack = xatlas.PackOptions()
    pack.padding = int(params.get("padding", 2))
    pack.resolution = int(params.get("resolution", 1024))
    pack.bilinear = True
    atlas.generate(pack_options=pack)
    _, indices, uvs = atlas[0]
    write({"corner_uvs": uvs[indices].astype(np.float32)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
