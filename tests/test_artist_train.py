"""Training data for the artist model: the face-count limit that narrows training to small meshes."""
import numpy as np

from backend.models.artist_mesh import ArtistConfig
from backend.train.artist import Pool, validation_set


def game(faces: int):
    """A fake game mesh entry (name, positions, sizes, indices): a strip of ``faces`` quads."""
    positions = np.array([[x, y, 0.0] for x in range(faces + 1) for y in (0, 1)])
    indices = np.array([[2 * k, 2 * k + 2, 2 * k + 3, 2 * k + 1] for k in range(faces)]).reshape(-1)
    return (f"strip{faces}", positions, np.full(faces, 4), indices)


def test_pool_and_validation_keep_only_meshes_within_the_limit():
    games = [game(n) for n in (4, 10, 30, 80, 200)]
    rng = np.random.default_rng(0)
    pool = Pool(games, procedural_share=0.5, cache=3, limit=40)
    assert [g[0] for g in pool.games] == ["strip4", "strip10", "strip30"]
    drawn = [pool.draw(rng) for _ in range(12)]
    assert len(pool.cache) == 3 and all(len(sizes) <= 40 for _, sizes, _ in drawn)
    cfg = ArtistConfig(dim=32, layers=1, heads=2, latents=4, points=64, fourier=2)
    val = validation_set(cfg, games[::-1], 2, limit=40)  # the largest first: they must be skipped
    assert len(val) == 4 and all(e["faces"] <= 40 for e in val)


def test_without_a_limit_every_game_mesh_is_drawn_from():
    games = [game(n) for n in (4, 200)]
    assert len(Pool(games, procedural_share=0.5, cache=3).games) == 2
