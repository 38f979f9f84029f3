"""The one `Preprocessing` record: validation, config round trip, the shipped config, the input-scaling table."""
import dataclasses
import json

import numpy as np
import pytest
import torch

import explain.baselines as B
from learnet.dynamic import INPUT_SCALINGS, get_input_scaling, no_motion_level
from learnet.hub import DEFAULT_MODEL_DIR, ModelLoadError, load_model, save_model
from learnet.model import LEARNet, describe
from learnet.pipeline import Pipeline
from learnet.preprocessing import Preprocessing

SHIPPED = DEFAULT_MODEL_DIR / "config.json"


@pytest.mark.parametrize("change, message", [
    ({"input_size": 100}, "input size must be a positive multiple of 16, got 100"),
    ({"input_size": 0}, "input size must be a positive multiple of 16, got 0"),
    ({"input_size": "112"}, "input size must be a positive multiple of 16, got '112'"),
    ({"di_variant": "rank"}, "DI variant must be one of bilen, authors, got 'rank'"),
    ({"face_mode": "mtcnn"}, "face mode must be one of auto, none, got 'mtcnn'"),
    ({"window": "dual-phase"}, "window must be one of onset-offset, onset-apex, apex-offset, got 'dual-phase'"),
    ({"input_scaling": "zscore"}, "input scaling must be one of minmax, signed, got 'zscore'"),
    ({"input_scaling": None}, "input scaling must be one of minmax, signed, got None"),
    ({"stabilise": "yes"}, "stabilise must be true or false, got 'yes'"),
    ({"temperature": 0}, "temperature must be a positive number, got 0"),
    ({"temperature": float("inf")}, "temperature must be a positive number, got inf"),
    ({"temperature": "1.5"}, "temperature must be a positive number, got '1.5'"),
])
def test_each_bad_setting_is_one_clear_line(change, message):
    with pytest.raises(ValueError) as err:
        Preprocessing(**change)
    assert str(err.value) == message
    with pytest.raises(ValueError) as err:  # the model checks through the same record, so says the same
        LEARNet(num_classes=2, **change)
    assert str(err.value) == message


def test_settings_are_normalised_frozen_and_comparable():
    p = Preprocessing(input_size=np.int64(64), stabilise=np.bool_(True), temperature=2)
    assert (type(p.input_size), type(p.stabilise), type(p.temperature)) == (int, bool, float)
    assert p == Preprocessing(input_size=64, stabilise=True, temperature=2.0) and hash(p) == hash(
        Preprocessing(input_size=64, stabilise=True, temperature=2.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.face_mode = "none"
    assert dataclasses.replace(p, face_mode="none").face_mode == "none" and p.face_mode == "auto"
    with pytest.raises(ValueError, match="^face mode must be one of auto, none, got 'off'$"):
        dataclasses.replace(p, face_mode="off")  # replace validates too


def test_config_round_trip_keeps_todays_keys():
    p = Preprocessing(input_size=64, di_variant="authors", face_mode="none", window="apex-offset",
                      input_scaling="signed", stabilise=True, temperature=1.25)
    d = p.to_dict()
    assert list(d) == ["input_size", "di_variant", "face_mode", "window", "input_scaling", "stabilise", "temperature"]
    assert d == {"input_size": 64, "di_variant": "authors", "face_mode": "none", "window": "apex-offset",
                 "input_scaling": "signed", "stabilise": True, "temperature": 1.25}
    assert Preprocessing.from_dict(d) == p
    # A whole model config: the other keys are not preprocessing; keys an old config lacks take defaults.
    assert Preprocessing.from_dict({**d, "class_names": ["a"], "dropout": 0.5, "metadata": {}}) == p
    old = {"num_classes": 3, "input_size": 112, "di_variant": "bilen", "face_mode": "none", "window": "onset-offset"}
    assert Preprocessing.from_dict(old) == Preprocessing(face_mode="none")
    model = LEARNet(class_names=["a", "b"], **d)
    assert model.preprocessing == p and model.hub_config() == {
        "num_classes": 2, "class_names": ["a", "b"], **d, "dropout": 0.5, "metadata": {}}
    assert {k: describe(model)[k] for k in d} == d


def test_the_shipped_config_loads_and_saves_back_byte_for_byte(tmp_path):
    config = json.loads(SHIPPED.read_text())
    expected = Preprocessing(input_size=112, di_variant="bilen", face_mode="auto", window="onset-offset",
                             input_scaling="signed", stabilise=True, temperature=1.5990572356373707)
    assert Preprocessing.from_dict(config) == expected
    model = load_model(DEFAULT_MODEL_DIR)
    assert model.preprocessing == expected and model.input_scaling == "signed" and model.temperature == expected.temperature
    save_model(model, tmp_path / "again")
    assert (tmp_path / "again" / "config.json").read_bytes() == SHIPPED.read_bytes()


def test_a_bad_setting_in_a_saved_config_is_named(tmp_path):
    folder = save_model(LEARNet(class_names=["a", "b"]), tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "window": "middle"}))
    with pytest.raises(ModelLoadError) as err:
        load_model(folder)
    assert str(err.value) == (f"{folder / 'config.json'} has an invalid preprocessing setting: window must be one "
                              "of onset-offset, onset-apex, apex-offset, got 'middle'")


def test_model_settings_are_read_only_views_of_its_preprocessing():
    model = LEARNet(class_names=["a", "b"], face_mode="none")
    assert (model.face_mode, model.window, model.input_size) == ("none", "onset-offset", 112)
    with pytest.raises(AttributeError) as err:
        model.face_mode = "auto"
    assert str(err.value) == ("face_mode is read-only; set model.preprocessing = "
                              "dataclasses.replace(model.preprocessing, face_mode=...) to change it")
    model.preprocessing = dataclasses.replace(model.preprocessing, face_mode="auto", temperature=2.0)
    assert model.face_mode == "auto" and model.hub_config()["temperature"] == 2.0


def test_pipeline_replaces_only_the_overridden_settings():
    model = LEARNet(class_names=["a", "b"], input_scaling="signed", stabilise=True, window="onset-apex")
    assert Pipeline(model).preprocessing == model.preprocessing
    pipe = Pipeline(model, face_mode="none", di_variant="authors")
    assert pipe.preprocessing == dataclasses.replace(model.preprocessing, face_mode="none", di_variant="authors")
    assert (pipe.face_mode, pipe.di_variant, pipe.window) == ("none", "authors", "onset-apex")
    with pytest.raises(ValueError, match="^window must be one of onset-offset, onset-apex, apex-offset, got 'x'$"):
        Pipeline(model, window="x")


def test_one_description_for_the_card_and_the_page():
    from demo.text import model_panel

    model = LEARNet(class_names=["a", "b"], input_size=64, face_mode="none", input_scaling="signed")
    line = "64 x 64 dynamic image, variant `bilen`, face mode `none`, frame window `onset-offset`, input scaling `signed`"
    assert model.preprocessing.describe() == line
    assert f"- Input: {line}\n" in str(model.generate_model_card())
    assert f"- **Input:** {line}\n" in model_panel(model)


def test_signed_scaling_closed_form_and_round_trip():
    s = INPUT_SCALINGS["signed"]
    di = np.array([[[-2.0, 0.0, 1.0, 0.5]]], np.float32)  # max|DI| = 2
    # 128 + 127 * DI / 2: -127 -> 1, 0 -> 128, 63.5 -> 191.5 -> 192 (half to even), 31.75 -> 160
    assert s.encode(di).tolist() == [[[1, 128, 192, 160]]]
    x = s.decode(torch.from_numpy(s.encode(di)))
    np.testing.assert_allclose(x.numpy(), [[[-1.0, 0.0, 64 / 127, 32 / 127]]], rtol=1e-6)
    rng = np.random.default_rng(0)
    di = rng.normal(size=(8, 8, 3)).astype(np.float32)
    back = s.decode(torch.from_numpy(s.encode(di))).numpy()
    assert np.abs(back - di / np.abs(di).max()).max() <= 0.5 / 127 + 1e-7  # half a code step
    assert s.range == (-1.0, 1.0) and s.exact is None and not s.brightness_augmentation


def test_minmax_scaling_closed_form_and_round_trip():
    s = INPUT_SCALINGS["minmax"]
    di = np.array([[[-2.0, 0.0, 2.0, 1.0]]], np.float32)
    assert s.encode(di).tolist() == [[[0, 128, 255, 191]]]  # 127.5 -> 128, 191.25 -> 191
    np.testing.assert_allclose(s.exact(di), [[[0.0, 0.5, 1.0, 0.75]]])
    assert s.decode(torch.tensor([0, 51, 255], dtype=torch.uint8)).tolist() == pytest.approx([0.0, 0.2, 1.0])
    di = np.random.default_rng(1).normal(size=(8, 8, 3)).astype(np.float32)
    back = s.decode(torch.from_numpy(s.encode(di))).numpy()
    assert np.abs(back - s.exact(di)).max() <= 0.5 / 255 + 1e-7
    assert s.range == (0.0, 1.0) and s.brightness_augmentation


def test_unknown_scaling_in_the_table():
    with pytest.raises(ValueError, match="^unknown input scaling 'zscore'; choose one of minmax, signed$"):
        get_input_scaling("zscore")
    assert get_input_scaling("signed") is INPUT_SCALINGS["signed"] and list(INPUT_SCALINGS) == ["minmax", "signed"]


def test_no_motion_has_one_name_and_is_where_a_zero_pixel_lands():
    di = np.array([[[-1.0, 0.0, 3.0]]], np.float32)
    for name, s in INPUT_SCALINGS.items():
        # exactly the model input of the DI's zero pixel, on both the float and the cached path
        assert s.no_motion_level(di) == pytest.approx(float(s.decode(torch.from_numpy(s.encode(di)))[0, 0, 1]),
                                                      abs=0.5 / 255)
        assert no_motion_level(di, name) == s.no_motion_level(di)
        assert s.no_motion_level(None) == sum(s.range) / 2  # without the DI: the middle of the range
        model = LEARNet(class_names=["a", "b"], input_scaling=name)
        assert B.no_motion_level(model) == s.no_motion_level(None) and B.no_motion_level(model, di) == s.no_motion_level(di)
    assert INPUT_SCALINGS["minmax"].no_motion_level(di) == 0.25  # -min / (max - min) = 1 / 4
    assert INPUT_SCALINGS["signed"].no_motion_level(di) == 0.0
    assert B.zero_level(di) == 0.25  # the earlier public name explain.zero_level still answers
    assert not hasattr(B, "default_level")


def test_recipe_reads_its_preprocessing_as_one_record():
    from learnet import __version__
    from learnet import train as T

    recipe = T.Recipe(window="dual-phase", face_mode="none", input_scaling="signed", stabilise=True, brightness=0.2)
    # The model records onset-offset for a dual-phase recipe; each phase's cache uses that phase's window.
    assert recipe.preprocessing == Preprocessing(face_mode="none", input_scaling="signed", stabilise=True)
    assert recipe.phase_preprocessing("onset-apex") == dataclasses.replace(recipe.preprocessing, window="onset-apex")
    assert T.make_model(recipe, ["a", "b"]).preprocessing == recipe.preprocessing
    assert T.preprocessing_settings(recipe, "apex-offset") == {
        "face_mode": "none", "size": 112, "di_variant": "bilen", "window": "apex-offset", "input_scaling": "signed",
        "learnet": __version__, "stabilise": True}
    # brightness shifts only where the scaling table allows them
    assert recipe.applied_brightness == 0.0 and dataclasses.replace(recipe, input_scaling="minmax").applied_brightness == 0.2
    # the flat fields stay the recipe's record: digests (run identity) equal those of the code before the record
    assert T.Recipe().digest() == "0474e83b56d800f7" and dataclasses.replace(recipe, brightness=0.1).digest() == "9646bd49d8dacd18"
    with pytest.raises(ValueError, match="^face mode must be one of auto, none, got 'x'$"):
        T.Recipe(face_mode="x")
    with pytest.raises(ValueError, match="^window must be one of onset-offset, onset-apex, apex-offset, dual-phase$"):
        T.Recipe(window="x")
