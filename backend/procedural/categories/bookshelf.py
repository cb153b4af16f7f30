"""Bookshelves: open shelving units, 2-6 shelves, with or without back panel, optional books."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("bookshelf", d)
    fam = d.family(["wood", "wood", "metal"])
    w = d.size(0.6, 1.2)
    h = d.height(0.9, 2.0)
    depth = d.uniform(0.25, 0.4)
    t = d.uniform(0.022, 0.035)
    hw, hd = w / 2, depth / 2
    plinth = d.uniform(0.04, 0.1) if d.chance(0.6) else 0.0
    b.part("side", fam, slab(-hw, -hw + t, -hd, hd, 0, h), slab(hw - t, hw, -hd, hd, 0, h), primary=True)
    shelves = max(2, min(6, int(round(h / d.uniform(0.3, 0.4)))))
    zs = np.linspace(plinth, h - t, shelves + 1)
    back = d.chance(0.7)
    shelf_back = hd - t if back else hd  # shelves stop at the back panel (no shared faces)
    b.part("shelf", fam, *[slab(-hw + t, hw - t, -hd, shelf_back, z, z + t) for z in zs], primary=True)
    b.feature(f"{count_word(shelves)} shelves")
    if plinth:
        b.part("side", fam, slab(-hw + t, hw - t, -hd, -hd + t, 0, plinth))
    if back:
        b.part("back", fam, slab(-hw + t, hw - t, hd - t, hd, plinth, h - t), primary=True)
        b.feature("a back panel")
    if d.choice("books", ["with books", "empty"], weights=[3, 2]) == "with books":
        books = []
        filled = sorted(d.rng.choice(shelves, size=min(shelves, d.integer(1, 3)), replace=False))
        for z in zs[filled]:
            x = -hw + t + d.uniform(0.0, 0.1)
            space = (zs[1] - zs[0]) - t
            for _ in range(d.integer(3, 10)):
                bw, bh = d.uniform(0.025, 0.06), space * d.uniform(0.6, 0.9)
                if x + bw > hw - t:
                    break
                books.append(slab(x, x + bw, -hd + 0.02, -hd + 0.02 + depth * d.uniform(0.6, 0.85), z + t, z + t + bh))
                x += bw + (0.002 if d.chance(0.8) else d.uniform(0.05, 0.15))
        if books:
            b.part("books", "paper", *books)
            b.paint("paper", 1.0)
            b.feature("rows of books" if len(filled) > 1 else "a row of books")
    return b


CATEGORY = Category(
    name="bookshelf",
    descriptions=("a bookshelf", "a bookcase", "shelves for books", "an open shelving unit", "a tall shelf full of books",
                  "a library shelf"),
    build=build,
    options={"books": {"with books": "filled with books", "empty": "with empty shelves"}},
)
