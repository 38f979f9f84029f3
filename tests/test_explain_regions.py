"""Region shares, region tables (CSV/LaTeX) and the faithfulness metrics, on hand-made maps and masks."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch
from torch import nn

from explain.base import AttributionMap, ExplainError
from explain.faithfulness import (
    deletion_curve, deletion_insertion_aucs, energy_in_mask, equal_weight_mean, faithfulness_aucs, infidelity_score, insertion_curve, pointing_game, random_map,
    random_map_baseline, score_against_mask, sensitivity_score,
)
from explain.regions import AREA_ROW, RegionTable, region_areas, region_shares, region_table
from learnet.template import REGION_NAMES, region_masks
from toy_models import LinearScore

S = 112





def _map(values: np.ndarray, **kw) -> AttributionMap:
    return AttributionMap(values, kw.pop("method", "gradcam"), kw.pop("layer", "al1"), 0, "negative", **kw)


def test_region_shares_sum_to_one_and_ignore_negative_values():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(S, S)).astype(np.float32)
    shares = region_shares(v)
    assert list(shares) == list(REGION_NAMES)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
    masks = region_masks(S)
    pos = np.clip(v, 0, None)
    assert shares["mouth"] == pytest.approx(pos[masks["mouth"]].sum() / pos.sum(), rel=1e-9)


def test_region_shares_closed_forms():
    masks = region_masks(S)
    only_mouth = region_shares(masks["mouth"].astype(np.float32) * 3.0 - masks["nose"].astype(np.float32))
    assert only_mouth["mouth"] == 1.0 and sum(only_mouth.values()) == 1.0
    uniform = region_shares(np.ones((S, S)))
    areas = region_areas(S)
    for name in REGION_NAMES:
        assert uniform[name] == pytest.approx(areas[name]) == pytest.approx(masks[name].sum() / S**2)
    assert set(region_shares(-np.ones((S, S))).values()) == {0.0}  # nothing positive to share
    with pytest.raises(ExplainError, match="square"):
        region_shares(np.ones((S, S + 1)))


def test_region_table_csv_round_trip_and_latex():
    masks = region_masks(S)
    maps = {"brows": (masks["left_brow"] | masks["right_brow"]).astype(np.float32),
            "al2": _map(np.random.default_rng(1).random((S, S)))}
    table = region_table(maps)
    assert table.rows == ["brows", "al2", AREA_ROW] and table.columns == list(REGION_NAMES)
    np.testing.assert_allclose(table.values.sum(axis=1), 1.0, atol=1e-12)
    rows = list(csv.reader(io.StringIO(table.to_csv(digits=6))))
    assert rows[0] == ["map", *REGION_NAMES] and [r[0] for r in rows[1:]] == table.rows
    np.testing.assert_allclose(np.array([[float(c) for c in r[1:]] for r in rows[1:]]), table.values, atol=1e-6)
    brows = table.as_dict()["brows"]
    assert brows["left_brow"] + brows["right_brow"] == pytest.approx(1.0)
    tex = table.to_latex()
    assert tex.count(r"\\") == 1 + len(table.rows) and tex.count(r"\textbf{") == len(table.rows)
    assert "left brow" in tex and "area (uniform map)" in tex
    titled = region_table([_map(np.ones((S, S)), layer="al3")], include_area=False)
    assert titled.rows == ["Grad-CAM AL3 (negative)"]
    with pytest.raises(ExplainError, match="at least one map"):
        region_table([])


def test_region_table_exact_csv_and_latex(tmp_path):
    # A hand-made table: every character LaTeX treats specially is escaped; the largest share is bold.
    table = RegionTable(["al1 & 50% #1_x\\"], ["left_brow", "mouth"], np.array([[0.25, 0.75]]))
    tabular = ("\\begin{tabular}{lrr}\n\\toprule\nmap & left brow & mouth \\\\\n\\midrule\n"
               "al1 \\& 50\\% \\#1\\_x\\textbackslash{} & 25.0 & \\textbf{75.0} \\\\\n"
               "\\bottomrule\n\\end{tabular}\n")
    assert table.to_latex() == tabular
    assert table.to_latex(percent=False).splitlines()[4].endswith("& 0.250 & \\textbf{0.750} \\\\")
    captioned = table.to_latex(path=tmp_path / "t.tex", caption="Shares_of AL1")
    assert captioned == ("\\begin{table}\n\\centering\n" + tabular + "\\caption{Shares\\_of AL1}\n\\end{table}\n")
    assert (tmp_path / "t.tex").read_text(encoding="utf-8") == captioned
    plain = RegionTable(["al1 ü"], ["left_brow", "mouth"], np.array([[0.25, 0.75]]))
    assert plain.to_csv(tmp_path / "t.csv") == "map,left_brow,mouth\nal1 ü,0.2500,0.7500\n"
    assert (tmp_path / "t.csv").read_bytes() == "map,left_brow,mouth\nal1 ü,0.2500,0.7500\n".encode("utf-8")


def test_region_table_of_one_map_small_maps_and_empty_input():
    masks = region_masks(S)
    single = region_table({"mouth": masks["mouth"] * 1e-6})  # a faint map still has all its mass in the mouth
    assert single.rows == ["mouth", AREA_ROW] and single.values.shape == (2, len(REGION_NAMES))
    assert single.as_dict()["mouth"]["mouth"] == pytest.approx(1.0)
    assert single.as_dict()[AREA_ROW] == pytest.approx(region_areas(S))
    with pytest.raises(ExplainError, match="^region_table needs at least one map$"):
        region_table({})


def test_energy_in_mask_closed_form():
    v = np.zeros((8, 8))
    v[0, 0], v[0, 1], v[5, 5], v[7, 7] = 3.0, 1.0, 4.0, -10.0
    mask = np.zeros((8, 8), bool)
    mask[:2, :2] = True
    assert energy_in_mask(v, mask) == pytest.approx(0.5)  # (3 + 1) / (3 + 1 + 4); negatives ignored
    assert energy_in_mask(-np.ones((8, 8)), mask) == 0.0
    with pytest.raises(ExplainError, match="mask shape"):
        energy_in_mask(v, mask[:4])


def test_equal_weight_mean_lets_every_map_count_alike():
    mask = np.zeros((8, 8), bool)
    mask[:4] = True
    loud, quiet = np.zeros((8, 8)), np.zeros((8, 8))
    loud[:4] = 100.0  # all inside the mask, large raw values
    quiet[4:] = 1.0  # all outside, small raw values
    stack = np.stack([loud, quiet])
    assert energy_in_mask(stack.mean(axis=0), mask) == pytest.approx(100 / 101)  # the loud map decides alone
    assert energy_in_mask(equal_weight_mean(stack), mask) == pytest.approx(0.5)
    assert equal_weight_mean(stack).sum() == pytest.approx(1.0)
    assert np.array_equal(equal_weight_mean(np.stack([loud, np.zeros((8, 8))])), loud / loud.sum() / 2)


def test_pointing_game_hits_misses_and_tolerance():
    mask = np.zeros((S, S), bool)
    mask[40:50, 40:50] = True
    v = np.zeros((S, S))
    v[45, 45] = 1.0
    assert pointing_game(v, mask)
    v[45, 45], v[45, 53] = 0.0, 1.0  # 4 px right of the mask's last column (49)
    assert not pointing_game(v, mask)
    assert not pointing_game(v, mask, tolerance=3.9)
    assert pointing_game(v, mask, tolerance=4.0)
    assert not pointing_game(np.zeros((S, S)), mask)  # no positive value: a miss
    score = score_against_mask([np.where(mask, 1.0, 0.0), v], [mask, mask])
    assert (score.energy, score.pointing, score.n) == (0.5, 0.5, 2)


def test_random_map_baseline_matches_area_fraction():
    mask = np.zeros((S, S), bool)
    mask[20:76, 10:66] = True  # a quarter of the image
    chance = random_map_baseline(mask, n_maps=400, seed=0, resolution=None)
    assert chance.n == 400
    assert chance.energy == pytest.approx(0.25, abs=0.005)  # expected energy = area fraction
    assert chance.pointing == pytest.approx(0.25, abs=0.07)  # expected hit rate = area fraction
    coarse = random_map((S, S), seed=3, resolution=7)
    assert coarse.shape == (S, S) and coarse.dtype == np.float32
    # Bilinear upsampling of a 7 x 7 uniform grid: the corner pixels are the grid's corners (the sample
    # positions clamp there), and every pixel lies between the grid's extremes.
    grid = np.random.default_rng(3).random((7, 7)).astype(np.float32)
    assert coarse[0, 0] == grid[0, 0] and coarse[-1, -1] == grid[-1, -1] and coarse[0, -1] == grid[0, -1]
    assert grid.min() <= coarse.min() and coarse.max() <= grid.max()
    assert np.array_equal(coarse, random_map((S, S), seed=3))


def test_deletion_and_insertion_curves_on_a_linear_model():
    size = 16
    g = torch.Generator().manual_seed(0)
    w = torch.rand(1, 1, size, size, generator=g) * 0.05
    model = LinearScore(w).eval()
    x = torch.rand(1, 3, size, size, generator=g)
    relevance = (w * x).sum(1)[0].numpy()  # exact per-pixel contribution
    base = 0.0
    d = deletion_curve(model, x, relevance, target=0, steps=16, baseline=base, batch_size=5)
    i = insertion_curve(model, x, relevance, target=0, steps=16, baseline=base)
    full, empty = torch.sigmoid((w * x).sum()).item(), 0.5
    assert d.fractions[0] == 0 and d.fractions[-1] == 1 and len(d.scores) == 17
    assert d.scores[0] == pytest.approx(full, abs=1e-6) and d.scores[-1] == pytest.approx(empty, abs=1e-6)
    assert i.scores[0] == pytest.approx(empty, abs=1e-6) and i.scores[-1] == pytest.approx(full, abs=1e-6)
    assert np.all(np.diff(d.scores) <= 1e-7) and np.all(np.diff(i.scores) >= -1e-7)
    # Trapezoid rule by hand.
    assert d.auc == pytest.approx(sum((d.scores[k] + d.scores[k + 1]) / 2 / 16 for k in range(16)))
    # The exact relevance deletes faster (and inserts faster) than its reverse ranking.
    d_rev = deletion_curve(model, x, -relevance, target=0, steps=16, baseline=base)
    i_rev = insertion_curve(model, x, -relevance, target=0, steps=16, baseline=base)
    assert d.auc < d_rev.auc and i.auc > i_rev.auc
    with pytest.raises(ExplainError, match="does not match"):
        deletion_curve(model, x, relevance[:8], target=0)


def test_batched_faithfulness_equals_map_by_map_curves():
    size = 16
    g = torch.Generator().manual_seed(1)
    model = LinearScore(torch.rand(1, 1, size, size, generator=g) * 0.05).eval()
    x = torch.rand(1, 3, size, size, generator=g)
    maps = {f"m{k}": torch.rand(size, size, generator=g).numpy() for k in range(3)}
    # batch 7 splits the 3 maps x 2 kinds x 9 images across maps and kinds: every row must still line up
    batched = faithfulness_aucs(model, x, maps, target=0, steps=8, baseline=0.0, batch_size=7)
    assert list(batched) == ["m0", "m1", "m2"]
    for name, m in maps.items():
        d = deletion_curve(model, x, m, target=0, steps=8, baseline=0.0, batch_size=1)
        i = insertion_curve(model, x, m, target=0, steps=8, baseline=0.0, batch_size=1)
        assert batched[name]["deletion_auc"] == pytest.approx(d.auc, abs=1e-7)
        assert batched[name]["insertion_auc"] == pytest.approx(i.auc, abs=1e-7)
    assert len({v["deletion_auc"] for v in batched.values()}) == 3  # different maps, different curves


def test_optional_captum_metrics_run():
    torch.manual_seed(0)
    from learnet.model import LEARNet

    import explain as E

    net = LEARNet(class_names=["a", "b", "c"]).eval()
    x = torch.rand(1, 3, 112, 112, generator=torch.Generator().manual_seed(0))
    m = E.gradcam(net, x, layer="al2", target=0)
    d = deletion_curve(net, x, m, steps=4)  # target taken from the map
    with torch.no_grad():
        p0 = float(torch.softmax(net(x), 1)[0, 0])
    assert d.scores[0] == pytest.approx(p0, abs=1e-6) and len(d.scores) == 5


class _LinearScorer(nn.Module):
    """logit_k = sum(w_k * x): the exact attribution of class k is w_k, so infidelity has a closed form."""

    input_size = 8

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bchw,kchw->bk", x, self.w)


def test_infidelity_closed_form_on_a_linear_model():
    # infidelity = mean_s (I_s . a - (f(x) - f(x - I_s)))^2 with noise I_s ~ N(0, stdev^2) and a the map spread
    # evenly over the channels.  For f = w . x with w = v/3 per channel, a map c * v gives (c - 1)^2 (I_s . w)^2.
    v = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    w = torch.stack([v.expand(3, 8, 8) / 3, -v.expand(3, 8, 8) / 3])
    net, x = _LinearScorer(w).eval(), torch.full((1, 3, 8, 8), 0.5)
    score = lambda c, **kw: infidelity_score(net, x, _map(c * v.numpy()), **kw)  # noqa: E731
    torch.manual_seed(0)  # the same draws as the metric's own seed 0: one batch of 16 noise images
    noise = torch.randn(16, 3, 8, 8) * 0.05
    k = float(((noise * w[0]).sum(dim=(1, 2, 3)) ** 2).mean())  # 0.01367 (its expectation: 0.05^2 |w|^2 = 0.0161)
    assert score(1.0) < 1e-9  # the exact attribution is perfectly faithful
    assert score(0.0) == pytest.approx(k, rel=1e-4)
    assert score(2.0) == pytest.approx(k, rel=1e-4) and score(3.0) == pytest.approx(4 * k, rel=1e-4)
    assert score(0.0, stdev=0.1) == pytest.approx(4 * k, rel=1e-4)  # noise twice as large: 4 x
    assert score(0.0, seed=1) != pytest.approx(k, rel=1e-3)


def test_sensitivity_closed_forms():
    # Max-sensitivity: the largest relative change of a map over inputs moved by at most `radius`.
    x = torch.full((1, 3, 8, 8), 0.5)
    summed = lambda t: _map(t[0].sum(0).numpy())  # noqa: E731  (moves with the input)
    assert sensitivity_score(lambda t: _map(np.ones((8, 8))), x) == 0.0  # a map that ignores the input
    base = sensitivity_score(summed, x, samples=8)
    # the draws are uniform(-r, r) = r * (2u - 1) for fixed u (seeded): linear in the radius; a rescaled map
    # changes nothing (relative change)
    assert sensitivity_score(summed, x, radius=0.04, samples=8) == pytest.approx(2 * base, rel=1e-5)
    assert sensitivity_score(lambda t: _map(5 * t[0].sum(0).numpy()), x, samples=8) == pytest.approx(base, rel=1e-6)
    # the perturbed inputs stay inside the radius and the model's input range
    seen = []
    sensitivity_score(lambda t: (seen.append(t.clone()), summed(t))[1], torch.ones(1, 3, 8, 8), radius=0.5, samples=8)
    assert len(seen) == 9 and torch.equal(seen[0], torch.ones(1, 3, 8, 8))
    assert all(float(t.max()) <= 1.0 and float(t.min()) >= 0.5 for t in seen)
    # A signed-input model is fed [-1, 1]: its perturbed inputs keep their sign and are clamped at -1, not 0.
    signed = []
    sensitivity_score(lambda t: (signed.append(t.clone()), summed(t))[1], torch.full((1, 3, 8, 8), -1.0),
                      radius=0.5, samples=8, input_range=(-1.0, 1.0))
    assert len(signed) == 9 and torch.equal(signed[0], torch.full((1, 3, 8, 8), -1.0))
    assert all(float(t.min()) == -1.0 and float(t.max()) <= -0.5 for t in signed)
    assert float(torch.stack(signed[1:]).max()) > -1.0  # some pixels did move


class _SignedLinearScore(LinearScore):
    input_scaling = "signed"  # inputs in [-1, 1]; no motion = 0


def _probabilities_by_hand(w, x, start, end, relevance, kind="deletion"):
    """p(class 0) after changing the k most relevant pixels (ties in row-major order), k = 0..n."""
    order = sorted(range(relevance.size), key=lambda p: (-relevance.reshape(-1)[p], p))
    a, b = (x, end) if kind == "deletion" else (start, x)  # deletion: x -> end; insertion: start -> x
    out = []
    for k in range(relevance.size + 1):
        changed = torch.zeros(relevance.size, dtype=torch.bool)
        changed[order[:k]] = True
        img = torch.where(changed.view(1, 1, *relevance.shape), b, a)
        out.append(float(torch.sigmoid((w * img).sum())))
    return np.array(out)


def test_curves_pixel_by_pixel_with_ties_a_tensor_baseline_and_signed_input():
    g = torch.Generator().manual_seed(5)
    w = torch.rand(1, 1, 4, 4, generator=g) - 0.3
    x = torch.rand(1, 3, 4, 4, generator=g) * 2 - 1  # negative values: only valid for a signed-input model
    relevance = np.floor(torch.rand(4, 4, generator=g).numpy() * 3)  # values 0, 1, 2: many ties
    net = _SignedLinearScore(w).eval()
    base = torch.full((1, 3, 4, 4), -0.25)
    d = deletion_curve(net, x, relevance, target=0, steps=16, baseline=base[0])  # any shape with x's size
    np.testing.assert_allclose(d.scores, _probabilities_by_hand(w, x, x, base, relevance), rtol=1e-6)
    np.testing.assert_allclose(d.fractions, np.arange(17) / 16)
    i = insertion_curve(net, x, relevance, target=0, steps=16, baseline=base)
    np.testing.assert_allclose(i.scores, _probabilities_by_hand(w, x, base, x, relevance, "insertion"), rtol=1e-6)
    assert (d.kind, i.kind) == ("deletion", "insertion")
    # the default "no-motion" baseline of a signed-input model is 0: p = sigmoid(0) once everything is deleted
    default = deletion_curve(net, x, relevance, target=0, steps=4)
    assert default.scores[-1] == pytest.approx(0.5, abs=1e-7)
    with pytest.raises(ExplainError, match=r"^expected a 2-D \(H, W\) map, got shape \(2, 2, 2\)$"):
        deletion_curve(net, x, np.zeros((2, 2, 2)), target=0)
    with pytest.raises(ExplainError, match=r"^map shape \(2, 2\) does not match the input's \(4, 4\)$"):
        deletion_curve(net, x, np.zeros((2, 2)), target=0)


def test_curve_targets_and_defaults():
    g = torch.Generator().manual_seed(6)
    w = torch.rand(1, 1, 8, 8, generator=g) * 0.1
    x = torch.rand(1, 3, 8, 8, generator=g)
    net = LinearScore(w).eval()
    dark = torch.zeros(1, 3, 8, 8)  # as a baseline, dark - 1 gives sum(w * -1) < 0: class 1 there
    relevance = torch.rand(8, 8, generator=g).numpy()
    p0 = float(torch.sigmoid((w * x).sum()))
    # a plain map without target: the class predicted on the input (0 here), not on the baseline (1)
    flipped = deletion_curve(net, x, relevance, steps=4, baseline=dark - 1)
    assert flipped.scores[0] == pytest.approx(p0, rel=1e-6)
    # an AttributionMap brings its target; an explicit target wins over it
    amap = AttributionMap(relevance.astype(np.float32), "gradcam", "al1", 1, "b")
    assert deletion_curve(net, x, amap, steps=4, baseline=0.0).scores[0] == pytest.approx(1 - p0, abs=1e-6)
    assert deletion_curve(net, x, amap, target=0, steps=4, baseline=0.0).scores[0] == pytest.approx(p0, rel=1e-6)
    assert insertion_curve(net, x, amap, target=0, steps=4, baseline=0.0).scores[-1] == pytest.approx(p0, rel=1e-6)
    # defaults: 56 steps (57 points), the no-motion baseline (0.5 for a min-max model)
    d = deletion_curve(net, x, relevance)
    assert len(d.scores) == 57 and d.scores[-1] == pytest.approx(float(torch.sigmoid(0.5 * 3 * w.sum())), rel=1e-6)
    assert len(insertion_curve(net, x, relevance).scores) == 57
    aucs = faithfulness_aucs(net, x, {"m": amap})  # target 1 from the map, 28 steps, no-motion baseline
    for kind, curve in (("deletion", deletion_curve), ("insertion", insertion_curve)):
        assert aucs["m"][f"{kind}_auc"] == pytest.approx(curve(net, x, amap, steps=28).auc, abs=1e-9)
        assert aucs["m"][f"{kind}_auc"] != pytest.approx(curve(net, x, amap, steps=29).auc, abs=1e-9)
    # plain arrays only and no target: the class predicted on the input
    plain = faithfulness_aucs(net, x, {"m": relevance}, steps=8, baseline=0.0)
    assert plain["m"]["deletion_auc"] == pytest.approx(deletion_curve(net, x, relevance, target=0, steps=8,
                                                                      baseline=0.0).auc, abs=1e-9)
    explicit = faithfulness_aucs(net, x, {"m": amap}, target=0, steps=8, baseline=0.0)
    assert explicit["m"]["deletion_auc"] == pytest.approx(deletion_curve(net, x, amap, target=0, steps=8,
                                                                         baseline=0.0).auc, abs=1e-9)
    assert deletion_insertion_aucs(net, x, amap, steps=8, baseline=0.0) == faithfulness_aucs(
        net, x, {"map": amap}, target=1, steps=8, baseline=0.0)["map"]
    assert deletion_insertion_aucs(net, x, amap)["deletion_auc"] == pytest.approx(aucs["m"]["deletion_auc"], abs=1e-9)


def test_equal_weight_mean_and_pointing_edges():
    maps = np.array([[[2.0, -1.0]], [[0.25, 0.25]], [[-1.0, -3.0]]])
    # positive masses 2, 0.5 and none: [1, -0.5], [0.5, 0.5], [-1, -3] (left as it is) -> mean
    np.testing.assert_allclose(equal_weight_mean(maps), [[0.5 / 3, -1.0]])
    mask = np.zeros((16, 16), bool)
    mask[0, 0] = True
    assert not pointing_game(np.zeros((16, 16)), mask)  # argmax of a flat map would be (0, 0): still a miss
    assert not pointing_game(-np.ones((16, 16)), mask)
    mask[:] = False
    mask[10, 10] = True
    beside, diagonal = np.zeros((16, 16)), np.zeros((16, 16))
    beside[10, 11], diagonal[11, 11] = 1.0, 1.0
    assert not pointing_game(beside, mask) and pointing_game(beside, mask, tolerance=1.0)
    assert not pointing_game(diagonal, mask, tolerance=1.0) and pointing_game(diagonal, mask, tolerance=1.5)
    assert score_against_mask([beside, diagonal], [mask, mask]).pointing == 0.0  # default tolerance 0
    assert score_against_mask([beside, diagonal], [mask, mask], tolerance=1.5).pointing == 1.0
    with pytest.raises(ExplainError, match=r"^need as many maps as masks \(at least one\), got 1 and 2$"):
        score_against_mask([beside], [mask, mask])


def test_random_maps_bilinear_and_seeded():
    low = np.random.default_rng(5).random((1, 1, 2, 2)).astype(np.float32)[0, 0]
    up = random_map((4, 4), seed=5, resolution=2)
    # bilinear, half-pixel centres: output (0, 0) reads low[0, 0]; (0, 1) reads x = 0.25 between low[0, 0..1]
    assert up[0, 0] == pytest.approx(low[0, 0]) and up[0, 1] == pytest.approx(0.75 * low[0, 0] + 0.25 * low[0, 1])
    fine = random_map((4, 4), seed=5, resolution=None)
    assert fine.dtype == np.float32 and np.array_equal(fine, np.random.default_rng(5).random((4, 4)).astype(np.float32))
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:12] = True
    # the documented seeding: one seed per random map from default_rng(seed).integers(0, 2**31)
    seeds = np.random.default_rng(3).integers(0, 2**31, size=5)
    by_hand = score_against_mask([random_map((16, 16), int(s), 7) for s in seeds], [mask] * 5)
    assert random_map_baseline(mask, n_maps=5, seed=3) == by_hand  # defaults: 7 px grid, tolerance 0
    # a per-pixel noise grid and a tolerance are passed on to the maps and the pointing game
    seeds = np.random.default_rng(3).integers(0, 2**31, size=20)
    fine = [random_map((16, 16), int(s), None) for s in seeds]
    fine_hand = score_against_mask(fine, [mask] * 20, tolerance=3.0)
    assert random_map_baseline(mask, n_maps=20, seed=3, resolution=None, tolerance=3.0) == fine_hand
    assert fine_hand != score_against_mask([random_map((16, 16), int(s), 7) for s in seeds], [mask] * 20, tolerance=3.0)
    assert fine_hand.pointing > score_against_mask(fine, [mask] * 20).pointing  # the tolerance mattered
    assert np.array_equal(random_map((16, 16)), random_map((16, 16), seed=0, resolution=7))  # the defaults
    default = random_map_baseline(mask)
    assert default.n == 100 and default == random_map_baseline(mask, n_maps=100, seed=0)
    two = random_map_baseline([mask, mask], n_maps=5, seed=3)
    assert two.n == 10 and random_map_baseline(np.stack([mask, mask]), n_maps=5, seed=3) == two


def test_captum_metrics_respect_the_input_range_and_defaults():
    # a signed-input model takes negative inputs; the metrics must not reject them
    v = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    net = _LinearScorer(torch.stack([v.expand(3, 8, 8) / 3, -v.expand(3, 8, 8) / 3])).eval()
    net.input_scaling = "signed"
    x = torch.full((1, 3, 8, 8), -0.5)
    assert infidelity_score(net, x, _map(v.numpy())) < 1e-9
    summed = lambda t: _map(t[0].sum(0).numpy())  # noqa: E731
    y = torch.full((1, 3, 8, 8), 0.5)
    assert sensitivity_score(summed, y) == sensitivity_score(summed, y, radius=0.02, samples=8, seed=0)
    assert sensitivity_score(summed, y) != sensitivity_score(summed, y, seed=1)
    shapes, seen = [], []
    sensitivity_score(lambda t: (shapes.append(tuple(t.shape)), seen.append(t.clone()), summed(t))[2],
                      torch.zeros(1, 3, 8, 8), radius=0.5, samples=4)
    assert set(shapes) == {(1, 3, 8, 8)}  # one image per call
    assert all(float(t.min()) >= 0.0 for t in seen) and float(seen[1].max()) > 0  # clamped below at 0 only
