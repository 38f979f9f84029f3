import pytest
import torch
from torch import nn

from learnet.model import ACCRETION_LAYERS, AccretionLayer, LEARNet, count_parameters, describe


@pytest.mark.parametrize("classes, expected", [(3, 1_865_539), (5, 1_866_053), (8, 1_866_824)])
def test_trainable_parameters_match_authors_graph(classes, expected):
    assert count_parameters(LEARNet(num_classes=classes)) == expected


def _shapes(model: LEARNet, x: torch.Tensor) -> dict[str, tuple]:
    shapes, handles = {}, []
    for name, module in model.named_modules():
        if name and not name.startswith(("pair1", "pair2")) or name.count(".") == 1:
            handles.append(module.register_forward_hook(lambda m, i, o, n=name: shapes.__setitem__(n, tuple(o.shape))))
    model(x)
    for h in handles:
        h.remove()
    return shapes


def test_feature_map_sizes_follow_the_table():
    model = LEARNet(num_classes=3).eval()
    s = _shapes(model, torch.rand(2, 3, 112, 112))
    assert s["stem"] == (2, 16, 56, 56)
    assert s["pair1.b1_1"] == s["pair1.b2_1"] == (2, 16, 28, 28)
    assert s["pair1.al1"] == s["pair2.al3"] == (2, 16, 28, 28)
    assert s["pair1.al2"] == s["pair2.al4"] == (2, 32, 14, 14)
    assert s["pair1.b1_3"] == s["pair2.b4_3"] == (2, 64, 7, 7)
    assert s["fuse"] == (2, 256, 7, 7)
    assert s["head"] == (2, 256, 4, 4)
    assert s["classifier"] == (2, 3)


def test_multiply_accumulates_about_26_3_million():
    model = LEARNet(num_classes=3).eval()
    macs = []

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels
            macs.append(output.numel() * k)
        elif isinstance(module, nn.Linear):
            macs.append(module.in_features * module.out_features)

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model(torch.rand(1, 3, 112, 112))
    for h in handles:
        h.remove()
    assert sum(macs) == 26_291_968  # reference.md: "about 26.3 M"


def test_accretion_layers_are_named_modules_summing_then_normalising():
    model = LEARNet(num_classes=3)
    layers = model.accretion_layers()
    assert list(layers) == list(ACCRETION_LAYERS)
    assert all(isinstance(m, AccretionLayer) for m in layers.values())
    assert model.al1 is model.pair1.al1 and model.al4 is model.pair2.al4
    al = AccretionLayer(4).eval()
    a, b = torch.rand(1, 4, 3, 3), torch.rand(1, 4, 3, 3)
    torch.testing.assert_close(al(a, b), al.bn(a + b))
    # Keras BatchNorm defaults
    assert al.bn.momentum == pytest.approx(0.01) and al.bn.eps == pytest.approx(1e-3)


@pytest.mark.parametrize("name, owner, shape", [
    ("al1", "pair1", (2, 16, 28, 28)), ("al2", "pair1", (2, 32, 14, 14)),
    ("al3", "pair2", (2, 16, 28, 28)), ("al4", "pair2", (2, 32, 14, 14)),
])
def test_each_accretion_layer_property_is_its_own_module(name, owner, shape):
    # Attribution tools hook model.alK: a property returning another layer would explain the wrong map.
    model = LEARNet(num_classes=3).eval()
    layer = getattr(model, name)
    assert layer is model.get_submodule(f"{owner}.{name}") and model.accretion_layers()[name] is layer
    assert len({id(m) for m in model.accretion_layers().values()}) == 4
    seen = []
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    model(torch.rand(2, 3, 112, 112))
    handle.remove()
    assert seen == [shape]


def test_every_convolution_has_its_own_non_inplace_relu():
    model = LEARNet(num_classes=3)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(convs) == 14  # stem + 2 x 6 branch convs + head
    assert len(relus) == 15  # one per conv + the dense layer's
    assert len({id(r) for r in relus}) == 15 and not any(r.inplace for r in relus)
    assert all(m.stride == (2, 2) and m.padding == (m.kernel_size[0] // 2,) * 2 for m in convs)


def test_pairs_meet_only_at_the_concatenation():
    # perturbing pair 2's first accretive conv must not change pair 1's outputs
    model = LEARNet(num_classes=3).eval()
    x = torch.rand(1, 3, 112, 112)
    stem = model.stem(x)
    before = model.pair1(stem)
    with torch.no_grad():
        model.pair2.b4_1.conv.weight.add_(1.0)
    after = model.pair1(stem)
    torch.testing.assert_close(before[0], after[0])
    torch.testing.assert_close(before[1], after[1])


def test_glorot_init_zero_bias_and_config_checks():
    model = LEARNet(class_names=["a", "b"])
    assert model.num_classes == 2 and model.classifier.out_features == 2
    assert all(float(m.bias.detach().abs().sum()) == 0 for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    bound = (6 / (16 * 9 + 3 * 9)) ** 0.5  # glorot uniform limit for the stem
    assert float(model.stem.conv.weight.detach().abs().max()) <= bound
    with pytest.raises(ValueError, match="2 class names given for 3 classes"):
        LEARNet(num_classes=3, class_names=["a", "b"])
    with pytest.raises(ValueError, match="needs num_classes or class_names"):
        LEARNet()
    with pytest.raises(ValueError, match="multiple of 16"):
        LEARNet(num_classes=3, input_size=100)
    with pytest.raises(ValueError, match="^input scaling must be one of minmax, signed, got 'zscore'$"):
        LEARNet(num_classes=3, input_scaling="zscore")
    info = describe(model)
    assert info["parameters"] == count_parameters(model) and info["class_names"] == ["a", "b"]


def test_gradients_reach_the_input_through_every_accretion_layer():
    model = LEARNet(num_classes=3).eval()
    x = torch.rand(1, 3, 112, 112, requires_grad=True)
    model(x)[0, 1].backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    for layer in model.accretion_layers().values():
        assert layer.bn.weight.grad is not None and float(layer.bn.weight.grad.abs().sum()) > 0
