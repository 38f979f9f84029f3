"""Action units -> face-template regions, and maps scored against each clip's annotated AUs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dataset_fixtures import CASME2_ROWS, make_casme2, make_manifest
from explain.au_regions import (
    AU_REGIONS, GLABELLA, ActionUnitCode, au_mask, au_region_names, dataset_tables, mask_iou, parse_aus,
    sample_scores,
)
from explain.base import ExplainError
from explain.faithfulness import random_map_baseline
from learnet.hub import save_model
from learnet.model import LEARNet
from learnet.template import region_masks

CLASSES = ["negative", "positive", "surprise"]


def test_parse_sides_intensities_and_unknown_codes():
    assert parse_aus("R4+L10+12B") == ([ActionUnitCode(4, "right"), ActionUnitCode(10, "left"),
                                        ActionUnitCode(12, None)], [])
    assert parse_aus("A1+2") == ([ActionUnitCode(1), ActionUnitCode(2)], [])
    assert parse_aus("AU6, AU12") == ([ActionUnitCode(6), ActionUnitCode(12)], [])
    assert parse_aus("51+X+4") == ([ActionUnitCode(4)], ["51", "X"])  # head movement, not an AU
    assert parse_aus("") == ([], []) and parse_aus("/") == ([], [])


def test_casme2_rows_map_to_their_regions(tmp_path):
    from learnet.datasets import read_casme2

    samples = read_casme2(make_casme2(tmp_path / "casme2"))
    assert len(samples) == len(CASME2_ROWS)
    regions = {s.clip: au_region_names(parse_aus(s.aus)[0]) for s in samples}
    assert regions["EP02_01f"] == ["mouth", "right_cheek", "left_cheek"]  # AU12
    assert regions["EP03_02"] == ["right_brow", "left_brow", "forehead"]  # AU1+2
    assert regions["EP04_02"] == ["right_brow", "glabella", "mouth", "nose"]  # R4+L10: the right brow only
    assert regions["EP13_02"] == ["chin", "mouth"]  # AU17
    assert regions["EP02_02"] == []  # no AU annotated


def test_mask_is_the_union_of_template_regions_and_glabella():
    masks = region_masks(112)
    np.testing.assert_array_equal(au_mask("17", 112), masks["chin"] | masks["mouth"])
    np.testing.assert_array_equal(au_mask("L4", 112), masks["left_brow"] | GLABELLA.mask(112))
    assert not au_mask("51", 112).any()
    assert set(AU_REGIONS[6]) == {"right_cheek", "left_cheek", "right_eye", "left_eye"}


def test_iou_closed_form():
    a, b = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    a[0:4, 0:5] = True  # 20 px
    b[2:6, 0:5] = True  # 20 px, 10 shared
    assert mask_iou(a, b) == pytest.approx(10 / 30)
    assert mask_iou(a, a) == 1.0 and mask_iou(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == 0.0
    with pytest.raises(ExplainError, match=r"masks of different shapes \(10, 10\) and \(3, 3\)"):
        mask_iou(a, np.zeros((3, 3), bool))


def test_regions_cover_most_of_each_generated_action_unit():
    """The table against the generator's exact motion masks: every AU the generator draws moves the face
    mostly inside that AU's regions (coverage = share of the motion mask inside them)."""
    from learnet.synth import ACTION_UNITS, Nuisances, make_clip

    for au in ACTION_UNITS:
        clip = make_clip("negative", 3, aus=(au,), nuisances=Nuisances.none(), n_frames=(12, 12), size=64)
        regions = au_mask(str(au), 64)
        coverage = (regions & clip.mask).sum() / clip.mask.sum()
        assert coverage > 0.5, (au, coverage)
        assert 0 < mask_iou(regions, clip.mask) < 1


def test_sample_scores_energy_pointing_and_iou():
    mouth = region_masks(112)["mouth"]
    inside = np.where(mouth, 1.0, 0.0)
    uniform = np.ones((112, 112))
    s = sample_scores("12", np.stack([inside, uniform]), truth_mask=mouth)
    regions = au_mask("12", 112)
    assert s["au_energy"].tolist() == pytest.approx([1.0, regions.mean(), (1.0 + regions.mean()) / 2])
    assert s["au_pointing"].tolist() == [True, False, True]  # a flat map's first maximum is the top-left corner
    assert float(s["au_iou"]) == pytest.approx(mouth.sum() / regions.sum())
    assert sample_scores("51", np.stack([inside])) == {}


def test_dataset_command_scores_maps_against_the_manifest_aus(tmp_path, capsys):
    from explain.cli import main

    torch.manual_seed(0)
    save_model(LEARNet(class_names=CLASSES, face_mode="none"), tmp_path / "model")
    manifest = make_manifest(tmp_path / "data", subjects=2, per_subject=3, extra_column=False)  # AUs 6+12
    out = tmp_path / "out"
    assert main(["dataset", str(manifest), "--model", str(tmp_path / "model"), "--out", str(out),
                 "--formats", "png", "--dpi", "30"]) == 0
    stdout = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    table = summary["action_units"]
    caches = [dict(np.load(f)) for f in sorted((out / "cache").glob("*.npz"))]
    scored = [c for c in caches if "maps" in c]
    assert scored and table["mean of maps"]["n"] == len(scored) == summary["explained"]
    regions = au_mask("6+12", 112)
    for i, layer in enumerate(("al1", "al2", "al3", "al4")):
        positive = [np.clip(c["maps"][i], 0, None) for c in scored]
        shares = [(v * regions).sum() / v.sum() if v.sum() > 0 else 0.0 for v in positive]
        assert table[layer]["energy"] == pytest.approx(np.mean(shares))
    assert table["area share"]["energy"] == pytest.approx(regions.mean())
    chance = random_map_baseline([regions] * len(scored), n_maps=20, seed=0)
    assert table["random map"] == {"energy": chance.energy, "pointing": chance.pointing, "n": chance.n}
    assert "energy in AU regions" in stdout and "action_units_mask_iou" not in summary
    assert (out / "action_units.csv").read_text().splitlines()[0] == "map,energy_in_au_regions,pointing_game,n"
    assert dataset_tables([{"label": np.array("x")}], ["al1"]) == {}
