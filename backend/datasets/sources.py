"""Meshes shipped by installed packages, for training and evaluating the shape VAE.

:func:`discover` lists :class:`MeshRef` records (where the mesh is, its stable key, its licence)
from the sources that are installed: Debian's ``0ad-data`` (PMD models, read from the extracted
tree or from ``mods/public/public.zip``, which is how Debian ships it), ``supertuxkart-data``
(SPM models), the ``pybullet_data`` PyPI package (OBJ/STL) and pymeshlab's sample meshes.
:func:`load_mesh` returns any of them as z-up triangles.

Two rules keep evaluation honest:

* :func:`is_held_out` rejects, always, the meshes of Debian's ``libcgal-demo`` and of Minetest
  mods (e.g. homedecor): they are evaluation sets and are never trained or tuned on;
* :func:`split` puts a fixed ~10% of every source's meshes in ``held_out`` by a hash of the
  source name and key, so the same meshes are held out on every machine and in every run.
"""
from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ZERO_AD_ROOT = Path("/usr/share/games/0ad")
STK_ROOT = Path("/usr/share/games/supertuxkart")
HELD_OUT_FRACTION = 0.1

LICENCES = {
    "0ad": "CC-BY-SA 3.0, (c) Wildfire Games (0 A.D. art, Debian package 0ad-data)",
    "supertuxkart": "free licences per file (CC-BY-SA 3.0/4.0, CC-BY, CC0, GPL), SuperTuxKart team and "
                    "contributors (Debian package supertuxkart-data, see its copyright file)",
    "pybullet_data": "zlib licence / as stated per model, Bullet Physics (PyPI package pybullet)",
    "pymeshlab": "GPL-3.0 test data of pymeshlab (PyPI package pymeshlab)",
}

# Paths that are evaluation sets and must never reach training: Debian's libcgal-demo, Minetest mods.
_HELD_OUT_PATTERNS = re.compile(r"libcgal-demo|cgal[-_]?demo|/cgal/|minetest|homedecor", re.IGNORECASE)
# Simplified collision hulls and helper meshes are not shapes of the object.
_HELPER_PATTERNS = re.compile(r"vhacd|_coll\b|_coll\.|collision|_physics?\d*\.spm$|/temp/|/test/|marker_|plane(100|_transparent)?\.obj$",
                              re.IGNORECASE)


@dataclass(frozen=True)
class MeshRef:
    """One mesh of an installed package."""

    source: str              # "0ad", "supertuxkart", "pybullet_data", "pymeshlab"
    key: str                 # stable path inside the source, e.g. "art/meshes/gaia/tree_oak.dae.cached.pmd"
    location: str            # file path (or the zip archive holding ``member``)
    member: str | None = None

    @property
    def licence(self) -> str:
        return LICENCES[self.source]

    @property
    def name(self) -> str:
        return f"{self.source}:{self.key}"


def is_held_out(path: str | Path) -> bool:
    """True for meshes of Debian's libcgal-demo and of Minetest mods: never train or tune on them."""
    return bool(_HELD_OUT_PATTERNS.search(str(path)))


def split(ref: MeshRef, fraction: float = HELD_OUT_FRACTION) -> str:
    """"train" or "held_out", fixed by a hash of the mesh's source and key."""
    digest = hashlib.sha256(f"kiln-mesh-split|{ref.source}|{ref.key}".encode()).digest()
    return "held_out" if int.from_bytes(digest[:4], "little") / 2 ** 32 < fraction else "train"


def discover(sources: tuple[str, ...] | None = None, zero_ad_root: Path = ZERO_AD_ROOT,
             stk_root: Path = STK_ROOT) -> list[MeshRef]:
    """Every usable mesh of the installed sources (all of them by default), sorted by name.
    Held-out evaluation sets and helper meshes (collision hulls, markers) are left out."""
    finders = {"0ad": lambda: _zero_ad(zero_ad_root), "supertuxkart": lambda: _files("supertuxkart", stk_root, ("*.spm",)),
               "pybullet_data": _pybullet, "pymeshlab": _pymeshlab}
    unknown = set(sources or ()) - set(finders)
    if unknown:
        raise ValueError(f"unknown mesh sources {sorted(unknown)}; known: {', '.join(finders)}")
    refs = []
    for name in sources or tuple(finders):
        refs.extend(ref for ref in finders[name]()
                    if not is_held_out(ref.location + "/" + ref.key) and not _HELPER_PATTERNS.search(ref.key))
    return sorted(refs, key=lambda r: r.name)


def load_mesh(ref: MeshRef) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V,3) float64, faces (F,3) int64), z up."""
    if is_held_out(ref.location + "/" + ref.key):
        raise ValueError(f"{ref.name} is a held-out evaluation mesh")
    suffix = ref.key.lower().rsplit(".", 1)[-1]
    data = _zip(ref.location).read(ref.member) if ref.member else None
    if suffix == "pmd":
        from .pmd import read_pmd
        mesh = read_pmd(data if data is not None else ref.location)
        return mesh.positions.astype(np.float64), mesh.faces.astype(np.int64)
    if suffix == "spm":
        from .spm import read_spm
        mesh = read_spm(data if data is not None else ref.location)
        return mesh.positions.astype(np.float64), mesh.faces.astype(np.int64)
    import trimesh
    loaded = trimesh.load(ref.location, force="mesh", process=False, skip_materials=True)
    vertices = np.asarray(loaded.vertices, dtype=np.float64)
    # OBJ files (pybullet_data's, pymeshlab's bunny/cow/airplane) are y up unless named z_up
    if ref.key.lower().endswith(".obj") and "z_up" not in ref.key:
        vertices = vertices @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64).T
    return vertices, np.asarray(loaded.faces, dtype=np.int64)


_CIVS = {"athen", "brit", "cart", "kart", "celt", "gaul", "iber", "mace", "maur", "pers", "ptol", "rome", "sele",
         "spart", "kush", "han", "hele", "ptol", "rom", "sam"}
_NOUN_FIRST = {"tree", "rock", "stone", "bush", "shield", "helmet", "weap", "plant", "flower", "wall", "tower",
               "house", "barrel", "crate", "cart", "fence", "statue", "column", "roof", "door", "pot", "basket"}
_FOLDERS = {"random_urdfs": "random object"}
_WORDS = {"weap": "weapon", "struct": "structure", "found": "foundation", "cav": "cavalry", "inf": "infantry",
          "alt": "", "prop": "", "props": "", "big": "big", "med": "medium", "sm": "small", "lg": "large"}


def caption(ref: MeshRef) -> str:
    """A short English caption from the file name and folders, e.g. 0 A.D.'s
    ``art/meshes/gaia/tree_oak.dae.cached.pmd`` -> "an oak tree"."""
    stem = Path(ref.key).name.split(".")[0]
    words = [w for w in re.split(r"[_\-\s]+|(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])", stem.lower()) if w]
    words = [_WORDS.get(w, w) for w in words if w not in _CIVS and not re.fullmatch(r"[0-9]+|[a-z]|x?[0-9]+x[0-9]+", w)]
    words = [w for w in words if w]
    if not words:  # a numbered file: name it by its folder ("random_urdfs/739/739.obj" -> "a random object")
        folder = [p for p in Path(ref.key).parts[:-1] if not p.isdigit()]
        words = [_FOLDERS.get(folder[-1], folder[-1].replace("_", " ")) if folder else "object"]
    if len(words) == 2 and words[0] in _NOUN_FIRST:  # 0 A.D. names noun first: tree_oak -> oak tree
        words = words[::-1]
    phrase = " ".join(words)
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


@lru_cache(maxsize=4)
def _zip(path: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


def _zero_ad(root: Path) -> list[MeshRef]:
    """0 A.D. models: extracted ``mods/*/art/meshes/**/*.pmd`` or members of ``mods/*/*.zip``."""
    refs = []
    for mod in sorted((root / "mods").glob("*")) if (root / "mods").is_dir() else []:
        for path in sorted(mod.rglob("*.pmd")):
            refs.append(MeshRef("0ad", path.relative_to(mod).as_posix(), str(path)))
        for archive in sorted(mod.glob("*.zip")):
            refs.extend(MeshRef("0ad", member, str(archive), member) for member in _zip(str(archive)).namelist()
                        if member.endswith(".pmd") and member.startswith("art/meshes/"))
    return refs


def _files(source: str, root: Path, patterns: tuple[str, ...]) -> list[MeshRef]:
    if not root.is_dir():
        return []
    return [MeshRef(source, path.relative_to(root).as_posix(), str(path))
            for pattern in patterns for path in sorted(root.rglob(pattern))]


def _pybullet() -> list[MeshRef]:
    try:
        import pybullet_data
    except ImportError:
        return []
    return _files("pybullet_data", Path(pybullet_data.getDataPath()), ("*.obj", "*.stl"))


def _pymeshlab() -> list[MeshRef]:
    try:
        import pymeshlab
    except ImportError:
        return []
    root = Path(pymeshlab.__file__).parent / "tests" / "sample_meshes"
    return _files("pymeshlab", root, ("*.obj", "*.ply", "*.off", "*.stl"))
