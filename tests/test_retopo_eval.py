"""`kiln-backend eval retopo DIR`: real files in, a table out, failures counted, results written."""
import json

import mesh_corpus
from backend.cli import main
from backend.meshio import read_mesh, write_mesh


def test_eval_retopo_prints_a_row_per_mesh_and_counts_failures(tmp_path, capsys):
    write_mesh(tmp_path / "torus.ply", mesh_corpus.load("torus"))
    write_mesh(tmp_path / "cylinder.obj", mesh_corpus.load("cylinder"))
    (tmp_path / "broken.obj").write_text("v 0 0 0\nf 1 2 3\n")
    out_dir = tmp_path / "out"
    code = main(["eval", "retopo", str(tmp_path), "--faces", "300", "--json", str(tmp_path / "rows.json"),
                 "--out", str(out_dir)])
    text = capsys.readouterr().out
    assert code == 1  # the broken file failed, the others did not
    assert "haus%" in text and "sing" in text and "FAILED" in text
    rows = {r["mesh"]: r for r in json.loads((tmp_path / "rows.json").read_text())}
    assert rows["broken.obj"]["status"] == "FAILED"
    for name in ("torus.ply", "cylinder.obj"):
        assert rows[name]["face_count_error"] <= 0.10 and rows[name]["hausdorff"] < 0.05
    written = read_mesh(out_dir / "torus.retopo.obj")
    assert set(written.face_sizes.tolist()) == {4}  # quads survive on disk
