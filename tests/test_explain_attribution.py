"""Attribution methods of `explain`: shapes, closed forms, completeness, targets, hooks, memory, errors."""
from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import explain as E
from explain.base import ExplainError, check_input
from explain.baselines import blurred_baseline, make_baseline, zero_level
from learnet.model import LEARNet

CLASSES = ["negative", "positive", "surprise"]





@pytest.fixture(scope="module")
def model() -> LEARNet:
    torch.manual_seed(1)  # seed 1: every layer has positive Grad-CAM for every class on `x` below
    return LEARNet(class_names=CLASSES).eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(1, 3, 112, 112, generator=g)


def _kwargs(name: str) -> dict:
    # Small settings keep the test fast; the defaults are exercised by the bench.
    return {"ig": {"steps": 8}, "smoothgrad": {"samples": 4}, "occlusion": {"window": 28, "stride": 28}}.get(name, {})


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(getattr(m, "_backward_pre_hooks", {})) for m in model.modules())


@pytest.mark.parametrize("name", ["gradcam", "guided", "ig", "smoothgrad", "occlusion"])
def test_every_method_gives_a_float32_map_at_input_resolution(model, x, name):
    method = E.get_method(name)
    layer = "al2" if method.needs_layer else None
    before = _hook_count(model)
    m = E.attribute(model, x, name, layer=layer, **_kwargs(name))
    assert _hook_count(model) == before == 0
    assert m.values.shape == (112, 112) and m.values.dtype == np.float32
    assert m.method == method.name and m.layer == layer
    assert (m.raw_min, m.raw_max) == (float(m.values.min()), float(m.values.max()))
    with torch.no_grad():
        logits = model(x)[0]
    predicted = int(logits.argmax())
    assert m.target == predicted and m.target_name == CLASSES[predicted]
    assert m.score == pytest.approx(float(logits[predicted]), abs=1e-6)
    assert np.isfinite(m.values).all() and m.raw_max > 0
    meta = m.metadata()
    assert "values" not in meta and meta["shape"] == [112, 112] and meta["params"] == m.params


def test_shared_pass_matches_captum_per_layer(model, x):
    for contrast in (None, "negative"):
        shared = E.gradcam_layers(model, x, E.LAYERS, target="surprise", contrast=contrast)
        assert list(shared) == list(E.LAYERS)
        for layer in E.LAYERS:
            single = E.gradcam(model, x, layer=layer, target="surprise", contrast=contrast)
            top = np.abs(single.values).max()
            assert top > 0
            np.testing.assert_allclose(shared[layer].values / top, single.values / top, rtol=0, atol=1e-5)
            assert shared[layer].target_label == single.target_label
    assert _hook_count(model) == 0


def test_plain_gradcam_is_nonnegative_and_contrast_is_antisymmetric(model, x):
    plain = E.gradcam(model, x, layer="al4", target="positive")
    assert plain.raw_min >= 0 and not plain.signed
    ab = E.gradcam(model, x, layer="al4", target="positive", contrast="surprise")
    ba = E.gradcam(model, x, layer="al4", target="surprise", contrast="positive")
    assert ab.signed and ab.raw_min < 0 < ab.raw_max  # signed: evidence for either class
    np.testing.assert_allclose(ab.values, -ba.values, atol=1e-6 * np.abs(ab.values).max())
    with torch.no_grad():
        logits = model(x)[0]
    assert ab.score == pytest.approx(float(logits[1] - logits[2]), abs=1e-6)
    assert ab.target_label == "positive - surprise"


def test_integrated_gradients_completeness_within_reported_delta(model, x):
    m = E.integrated_gradients(model, x, target="positive", steps=32)
    base = make_baseline(x, "no-motion")
    with torch.no_grad():
        expected = float(model(x)[0, 1] - model(base)[0, 1])
    total = float(m.values.astype(np.float64).sum())
    assert m.delta is not None
    assert abs(total - expected) <= abs(m.delta) + 1e-6
    assert abs(m.delta) < 0.05 * abs(expected)  # 32 Gauss-Legendre steps converge on this model
    assert m.params["steps"] == 32 and m.params["baseline"] == "no-motion" and m.params["level"] == 0.5


def test_signed_input_models_take_inputs_in_minus_one_one_and_no_motion_at_zero(x):
    torch.manual_seed(1)
    signed = LEARNet(class_names=CLASSES, input_scaling="signed").eval()
    xs = x * 2 - 1  # [-1, 1]
    m = E.integrated_gradients(signed, xs, target="positive", steps=16)
    assert m.params["level"] == 0.0  # "no motion" is 0 for signed input, not the min-max grey 0.5
    with torch.no_grad():
        expected = float(signed(xs)[0, 1] - signed(torch.zeros_like(xs))[0, 1])
    assert abs(float(m.values.astype(np.float64).sum()) - expected) <= abs(m.delta) + 1e-6
    assert E.smoothgrad(signed, xs, samples=2).params["stdev"] == pytest.approx(0.3)  # 15% of the range
    assert E.occlusion(signed, xs, window=56, stride=56).params["level"] == 0.0
    with pytest.raises(ExplainError, match=r"must be scaled to \[0, 1\].*got \[-1"):
        check_input(LEARNet(class_names=CLASSES), xs)


def test_integrated_gradients_contrast_is_difference_of_targets(model, x):
    a = E.integrated_gradients(model, x, target=0, steps=8)
    b = E.integrated_gradients(model, x, target=2, steps=8)
    ab = E.integrated_gradients(model, x, target=0, contrast=2, steps=8)
    np.testing.assert_allclose(ab.values, a.values - b.values, atol=1e-5 * np.abs(ab.values).max())


@pytest.mark.parametrize("kwargs, base, recorded", [
    ({}, lambda x: torch.full_like(x, 0.5), {"baseline": "no-motion", "level": 0.5}),
    ({"level": 0.25, "baseline": "constant"}, lambda x: torch.full_like(x, 0.25),
     {"baseline": "constant", "level": 0.25}),
    ({"level": "0.75", "baseline": "static"}, lambda x: torch.full_like(x, 0.75), {"baseline": "static", "level": 0.75}),
    ({"baseline": "blurred", "sigma": 3.0, "level": 0.9}, lambda x: blurred_baseline(x, 3.0),
     {"baseline": "blurred", "sigma": 3.0}),
    ({"baseline": "black", "internal_batch_size": None}, torch.zeros_like, {"baseline": "black"}),
    ({"baseline": "blurred"}, lambda x: blurred_baseline(x, 8.0), {"baseline": "blurred", "sigma": 8.0}),
    # names are case-insensitive, and the recorded name (and its level) is the one spelling
    ({"baseline": " No_Motion", "level": 0.3}, lambda x: torch.full_like(x, 0.3), {"baseline": "no-motion", "level": 0.3}),
])
def test_integrated_gradients_baselines_settings_and_delta(model, x, kwargs, base, recorded):
    m = E.integrated_gradients(model, x, target="surprise", steps=3, **kwargs)
    with torch.no_grad():
        base_score = float(model(base(x))[0, 2])
        expected = float(model(x)[0, 2]) - base_score
    params = {"steps": 3, "internal_batch_size": kwargs.get("internal_batch_size", 32), "channels": "sum",
              "baseline_score": pytest.approx(base_score, abs=1e-6), **recorded}
    assert m.params == params and type(m.params["steps"]) is int
    # Captum's convergence delta: the summed attributions minus score(x) - score(baseline).
    total = float(m.values.astype(np.float64).sum())
    assert m.delta == pytest.approx(total - expected, abs=1e-4 * max(1.0, abs(expected)))
    assert (m.method, m.layer, m.target, m.target_name, m.contrast) == ("ig", None, 2, "surprise", None)


def test_integrated_gradients_step_count(model, x):
    default = E.integrated_gradients(model, x, target=1)
    assert default.params["steps"] == 32
    # One Gauss-Legendre point: the gradient at the midpoint of the path times (x - baseline), summed over channels.
    one = E.integrated_gradients(model, x, target=1, steps="1")
    mid = (0.5 * (x + 0.5)).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(mid)[0, 1], mid)
    expected = ((x - 0.5) * grad)[0].sum(0).numpy()
    np.testing.assert_allclose(one.values, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
    assert one.params["steps"] == 1
    for steps in (0, -2):
        with pytest.raises(ExplainError, match=f"^integrated gradients need at least one step, got steps={steps}$"):
            E.integrated_gradients(model, x, steps=steps)


def test_occlusion_with_the_input_as_baseline_is_zero(model):
    flat = torch.full((1, 3, 112, 112), 0.3)
    m = E.occlusion(model, flat, baseline=0.3, window=28, stride=14)
    # Exactly zero up to float32 differences between batched and single forward passes.
    assert max(abs(m.raw_min), abs(m.raw_max)) < 1e-6
    assert m.params == {"window": 28, "stride": 14, "baseline": 0.3, "level": 0.5}


def test_smoothgrad_is_seeded_and_leaves_global_rng_alone(model, x):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = E.smoothgrad(model, x, samples=4, seed=7)
    assert torch.equal(torch.rand(3), expected_next)
    b = E.smoothgrad(model, x, samples=4, seed=7)
    c = E.smoothgrad(model, x, samples=4, seed=8)
    assert np.array_equal(a.values, b.values) and not np.array_equal(a.values, c.values)
    assert a.params["stdev"] == 0.15 and a.raw_min >= 0  # absolute gradients by default


def test_default_target_is_predicted_and_names_resolve(model, x):
    by_name = E.gradcam(model, x, layer="al1", target="Surprise")
    by_index = E.gradcam(model, x, layer="al1", target=2)
    assert np.array_equal(by_name.values, by_index.values) and by_name.target_name == "surprise"
    with pytest.raises(ExplainError, match="classes are: negative, positive, surprise"):
        E.gradcam(model, x, layer="al1", target="happiness")
    with pytest.raises(ExplainError, match="two different classes"):
        E.gradcam(model, x, layer="al1", target="positive", contrast=1)
    with pytest.raises(ExplainError, match="two different classes"):
        E.gradcam_layers(model, x, target=0, contrast="negative")


def test_bad_method_and_layer_names_list_the_valid_ones(model, x):
    with pytest.raises(ExplainError, match="valid methods: gradcam, guided, ig, smoothgrad, occlusion"):
        E.attribute(model, x, "lime")
    with pytest.raises(ExplainError, match="valid layers: al1, al2, al3, al4, fuse, head"):
        E.gradcam(model, x, layer="al5")
    with pytest.raises(ExplainError, match="valid layers"):
        E.gradcam_layers(model, x, ["al1", "conv9"])
    with pytest.raises(ExplainError, match="takes no layer"):
        E.attribute(model, x, "ig", layer="al1")
    assert E.get_method("Integrated_Gradients").name == "ig"
    assert E.get_method("guided-gradcam").name == "guided"


def test_bad_inputs_are_explained(model, x):
    with pytest.raises(ExplainError, match=r"\[0, 1\]"):
        E.gradcam(model, x * 255, layer="al1")
    with pytest.raises(ExplainError, match=r"shape \(1, 3, 112, 112\)"):
        E.gradcam(model, x[:, :, :64, :64], layer="al1")
    with pytest.raises(ExplainError, match=r"shape \(1, 3, 112, 112\)"):
        E.gradcam(model, x.repeat(2, 1, 1, 1), layer="al1")
    assert check_input(model, x[0]).shape == (1, 3, 112, 112)  # (3, S, S) is accepted


def test_inference_mode_is_refused_but_no_grad_and_inference_tensors_work(model, x):
    reference = E.gradcam(model, x, layer="al3")
    with torch.inference_mode():
        with pytest.raises(ExplainError, match="inference_mode"):
            E.gradcam(model, x, layer="al3")
        frozen = x.clone()  # an inference tensor, as a prediction under inference_mode makes
    assert frozen.is_inference()
    with torch.no_grad():
        in_no_grad = E.gradcam_layers(model, frozen, ["al3"])["al3"]
        ig = E.integrated_gradients(model, frozen, steps=4)
    np.testing.assert_allclose(in_no_grad.values, reference.values, atol=1e-5 * reference.raw_max)
    assert ig.raw_max > 0


def test_training_mode_is_explained_in_eval_and_restored(x):
    torch.manual_seed(1)
    net = LEARNet(class_names=CLASSES)
    assert net.training
    a = E.gradcam(net, x, layer="al2", target=0)
    assert net.training and all(m.training for m in net.modules())
    b = E.gradcam(net.eval(), x, layer="al2", target=0)
    assert np.array_equal(a.values, b.values)  # dropout was off and BatchNorm used running statistics


def _live_tensors() -> int:
    gc.collect()
    with warnings.catch_warnings():  # isinstance() on torch's deprecated aliases warns
        warnings.simplefilter("ignore")
        return sum(isinstance(o, torch.Tensor) for o in gc.get_objects())


def test_no_hooks_and_no_tensor_growth_over_100_calls(model, x):
    def call(i: int):  # both paths: the shared pass and Captum's per-layer Grad-CAM
        return E.gradcam_layers(model, x) if i % 2 else E.gradcam(model, x, layer="head")

    call(0), call(1)  # warm-up: lazy caches (Captum, autograd) are created once
    before = _live_tensors()
    for i in range(100):
        call(i)
    assert _live_tensors() == before
    assert _hook_count(model) == 0
    E.guided_gradcam(model, x, layer="al1")
    E.smoothgrad(model, x, samples=2)
    assert _hook_count(model) == 0


def test_hooks_are_removed_even_when_a_call_fails(model, x):
    with pytest.raises(ExplainError):
        E.gradcam_layers(model, x, ["al1", "al2"], target="nobody")
    assert _hook_count(model) == 0


def test_baselines():
    x = torch.rand(1, 3, 112, 112, generator=torch.Generator().manual_seed(0))
    assert torch.equal(make_baseline(x, "no-motion"), torch.full_like(x, 0.5))
    assert torch.equal(make_baseline(x, "no-motion", level=0.25), torch.full_like(x, 0.25))
    assert torch.equal(make_baseline(x, "black"), torch.zeros_like(x))
    const = torch.full((1, 3, 112, 112), 0.7)
    torch.testing.assert_close(blurred_baseline(const, 5.0), const)  # a blur keeps a constant image
    blurred = make_baseline(x, "blurred", sigma=4.0)
    assert blurred.shape == x.shape and blurred.std() < 0.2 * x.std()
    with pytest.raises(ExplainError, match="valid baselines: no-motion, black, blurred"):
        make_baseline(x, "white")
    # zero level: where DI = 0 lands after min-max; -min / (max - min)
    di = np.array([[[-3.0, 0.0, 1.0]]], dtype=np.float32)
    assert zero_level(di) == pytest.approx(0.75)
    assert zero_level(np.zeros((4, 4, 3))) == 0.5  # flat DI: no range, fall back to mid-grey


class _HandSetNet(nn.Module):
    """A net whose Grad-CAM is known: al1 = x, al2 = 2 x[:, :2], logit_k = <W1_k, al1> + <W2_k, al2>.

    d logit / d al2 = W2_k and, through both paths, d logit / d al1 = W1_k + 2 W2_k (first two channels), so
    Grad-CAM(al1) = relu(sum_c mean(W1_kc + 2 W2_kc) x_c), Grad-CAM(al2) = relu(sum_c mean(W2_kc) 2 x_c).
    """

    input_size = 8
    class_names = ["a", "b"]

    def __init__(self):
        super().__init__()
        self.al1, self.al2 = nn.Identity(), nn.Identity()
        g = torch.Generator().manual_seed(3)
        self.w1 = torch.randn(2, 3, 8, 8, generator=g)
        self.w2 = torch.randn(2, 2, 8, 8, generator=g)
        self.w1[1] += 2.5  # class b is the predicted one on the input below
        self.w1[1, 2] -= 3.0  # channels of opposite sign: both maps have negative parts for the ReLU to cut
        self.w2[1, 1] -= 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a1 = self.al1(x)
        a2 = self.al2(2 * a1[:, :2])
        return torch.einsum("bchw,kchw->bk", a1, self.w1) + torch.einsum("bchw,kchw->bk", a2, self.w2)


def test_gradcam_closed_form_on_a_hand_set_net():
    net = _HandSetNet().eval()
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    w1, w2 = net.w1, net.w2

    def expected(weights1, weights2, relu=True):
        g1 = weights1.clone()
        g1[:2] += 2 * weights2
        cam1 = (g1.mean(dim=(1, 2)).view(3, 1, 1) * x[0]).sum(0)
        cam2 = (weights2.mean(dim=(1, 2)).view(2, 1, 1) * 2 * x[0, :2]).sum(0)
        return [c.clamp(min=0) if relu else c for c in (cam1, cam2)]

    with torch.no_grad():
        logits = net(x)[0]
    assert int(logits.argmax()) == 1
    shared = E.gradcam_layers(net, x, ["al1", " AL2 "])  # default target: the predicted class
    assert list(shared) == ["al1", "al2"]
    for (name, m), cam in zip(shared.items(), expected(w1[1], w2[1])):
        np.testing.assert_allclose(m.values, cam.numpy(), rtol=1e-5, atol=1e-6)
        assert (m.method, m.layer, m.target, m.target_name, m.contrast, m.contrast_name) == ("gradcam", name, 1, "b", None, None)
        assert m.score == pytest.approx(float(logits[1]), rel=1e-6) and m.params == {"interpolation": "bilinear", "relu": True}
        single = E.gradcam(net, x, layer=name)
        np.testing.assert_allclose(single.values, m.values, rtol=1e-5, atol=1e-6)
    assert all(float(c.min()) < 0 < float(c.max()) for c in expected(w1[1], w2[1], relu=False))  # ReLU not idle
    # class a, contrasted with b: weights W_a - W_b, and the sign is kept
    contrast = E.gradcam_layers(net, x, ["al1", "al2"], target="a", contrast="b")
    for m, cam in zip(contrast.values(), expected(w1[0] - w1[1], w2[0] - w2[1], relu=False)):
        np.testing.assert_allclose(m.values, cam.numpy(), rtol=1e-5, atol=1e-5)
        assert (m.target, m.contrast, m.contrast_name, m.params["relu"]) == (0, 1, "b", False)
        assert m.score == pytest.approx(float(logits[0] - logits[1]), rel=1e-6)
    np.testing.assert_allclose(E.gradcam(net, x, layer="al1", target=0, contrast=1).values,
                               contrast["al1"].values, rtol=1e-5, atol=1e-5)
    with pytest.raises(ExplainError, match=r"expected one dynamic image of shape \(1, 3, 8, 8\)"):
        E.gradcam_layers(net, torch.rand(1, 3, 16, 16), ["al1"])  # the model's input size, not the tensor's
    with pytest.raises(ExplainError, match="^gradcam_layers needs at least one layer$"):
        E.gradcam_layers(net, x, [])
    with pytest.raises(ExplainError, match="^a contrastive map needs two different classes, got 'a' twice$"):
        E.gradcam_layers(net, x, ["al1"], target=0, contrast="a")
