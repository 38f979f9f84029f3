"""docs/example_notebook.py runs cell by cell, as a notebook would, and saves its figures."""
from __future__ import annotations

import re
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "example_notebook.py"


def test_notebook_cells_run_in_order_and_save_the_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEARNET_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("LEARNET_DEVICE", "cpu")
    monkeypatch.delenv("LEARNET_MODEL", raising=False)
    monkeypatch.delenv("LEARNET_NOTEBOOK_CLIP", raising=False)
    monkeypatch.chdir(ROOT)  # a notebook has no __file__: it finds the repository from the working folder
    cells = re.split(r"^# %%.*$", NOTEBOOK.read_text(encoding="utf-8"), flags=re.M)
    code = [c for c in cells[1:] if c.strip() and not all(line.startswith("#") for line in c.strip().splitlines())]
    assert len(code) == 6
    namespace: dict = {"__name__": "__main__"}
    for cell in code:
        exec(compile(cell, str(NOTEBOOK), "exec"), namespace)
    out = capsys.readouterr().out
    assert "surprise_1.mp4: 34 frames at 30 fps, 128x128 px" in out
    assert "answer: surprise" in out  # the shipped weights on their own example
    phases = namespace["phases"]
    assert phases.reliable and phases.onset < phases.apex < phases.offset
    assert [m.title for m in namespace["maps"]] == ["Grad-CAM AL1", "Grad-CAM AL2", "Grad-CAM AL3", "Grad-CAM AL4",
                                                     "IG"]
    folder = tmp_path / "out"
    assert sorted(p.name for p in folder.iterdir()) == [
        "dynamic_image.npy", "explanation.pdf", "explanation.png", "regions.csv", "regions.pdf", "regions.png",
        "regions.tex"]
    png = cv2.imread(str(folder / "explanation.png"))
    assert png is not None and png.shape[1] > png.shape[0] > 100  # one row of panels, wider than high
    assert (folder / "explanation.pdf").read_bytes().startswith(b"%PDF")
    assert (folder / "regions.csv").read_text().splitlines()[0].startswith("map,")
