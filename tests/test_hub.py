"""Loading weights the Hub way, with no network: a local folder, and a pre-populated Hub cache offline."""
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import GUARD_SOURCE, NetworkAccessError
from learnet.hub import ModelLoadError, load_model, parse_source, save_model
from learnet.model import LEARNet

CLASSES = ["negative", "positive", "surprise"]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def saved(tmp_path) -> Path:
    torch.manual_seed(0)
    model = LEARNet(class_names=CLASSES, face_mode="none", window="onset-apex", metadata={"model_card": "test weights"})
    return save_model(model, tmp_path / "learnet-test")


def _populate_cache(cache: Path, folder: Path, repo: str = "someorg/learnet-test") -> None:
    """Lay out a Hub cache entry exactly as huggingface_hub writes it."""
    entry = cache / f"models--{repo.replace('/', '--')}"
    shutil.copytree(folder, entry / "snapshots" / COMMIT)
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(COMMIT)


def test_save_writes_hub_files_and_config(saved):
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((saved / "config.json").read_text())
    assert config["class_names"] == CLASSES and config["face_mode"] == "none" and config["window"] == "onset-apex"
    assert config["input_size"] == 112 and config["di_variant"] == "bilen" and config["input_scaling"] == "minmax"
    card = (saved / "README.md").read_text()
    assert "arXiv 1904.09410" in card and "negative, positive, surprise" in card and "test weights" in card


def test_local_folder_round_trip(saved):
    model = load_model(saved)
    torch.manual_seed(0)
    original = LEARNet(class_names=CLASSES, face_mode="none", window="onset-apex")
    for (name, a), (_, b) in zip(original.state_dict().items(), model.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)
    assert model.class_names == CLASSES and model.window == "onset-apex" and not model.training
    assert model.source == str(saved)


def test_mismatched_weights_are_a_clear_error(saved):
    config = json.loads((saved / "config.json").read_text())
    config["class_names"] = ["a", "b", "c", "d", "e"]
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="config.json \\(5 classes\\): 5 class names given for 3 classes$"):
        load_model(saved)
    config["num_classes"] = 5  # a consistent config, but the weights hold a 3-way classifier
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="do not fit a LEARNet built from its config.json \\(5 classes\\): "
                                             "size mismatch for classifier.weight: .*torch.Size\\(\\[3, 256\\]\\)"):
        load_model(saved)


def _drop_tensor(folder: Path, name: str, extra: dict | None = None) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    del tensors[name]
    save_file({**tensors, **(extra or {})}, folder / "model.safetensors")


def test_a_missing_tensor_is_an_error_naming_it(saved):
    # Loading must be strict: a file without AL2's running variance would otherwise load with the fresh
    # BatchNorm's ones and give other predictions, silently.
    _drop_tensor(saved, "pair1.al2.bn.running_var")
    with pytest.raises(ModelLoadError) as err:
        load_model(saved)
    message = str(err.value)
    assert "\n" not in message
    assert message == (f"the weights in {saved} do not fit a LEARNet built from its config.json (3 classes): "
                       'Missing key(s) in state_dict: "pair1.al2.bn.running_var"')


def test_an_unexpected_tensor_is_an_error_naming_it(saved):
    _drop_tensor(saved, "classifier.bias", {"classifier.offset": torch.zeros(3)})
    with pytest.raises(ModelLoadError, match='Missing key\\(s\\) in state_dict: "classifier.bias"; '
                                             'Unexpected key\\(s\\) in state_dict: "classifier.offset"'):
        load_model(saved)


def test_pickle_weights_are_refused(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"class_names": CLASSES}))
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelLoadError, match="pickled .bin/.pt weights are not loaded"):
        load_model(folder)


def test_source_parsing_and_bad_sources(tmp_path):
    assert parse_source("org/name@v1.0") == ("org/name", "v1.0")
    assert parse_source("org/name") == ("org/name", None)
    with pytest.raises(ModelLoadError, match="neither a model folder nor a Hub repo id"):
        load_model(tmp_path / "no" / "such" / "folder")


def test_network_guard_is_active():
    with pytest.raises(NetworkAccessError):
        socket.create_connection(("203.0.113.5", 443), timeout=0.1)


def test_uncached_repo_offline_is_a_clear_error(tmp_path, monkeypatch):
    # huggingface_hub read HF_HUB_OFFLINE=1 at import (conftest); the cache is empty, so nothing can be fetched
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelLoadError, match="not in the local cache"):
        load_model("someorg/not-cached")


def _run_offline(cache: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("LEARNET_MODEL", None)
    return subprocess.run([sys.executable, "-c", GUARD_SOURCE + code], env=env, capture_output=True, text=True, timeout=120)


def test_repo_id_resolves_through_the_hub_cache_offline(saved, tmp_path):
    cache = tmp_path / "hub"
    _populate_cache(cache, saved)
    code = (
        "from learnet.hub import load_model\n"
        "for src in ('someorg/learnet-test', 'someorg/learnet-test@main', 'someorg/learnet-test@" + COMMIT + "'):\n"
        "    m = load_model(src)\n"
        "    print(src, m.revision, ','.join(m.class_names), m.window)\n"
    )
    result = _run_offline(cache, code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert line.split()[1:] == [COMMIT, "negative,positive,surprise", "onset-apex"]


def test_env_var_picks_the_default_source(saved, tmp_path):
    cache = tmp_path / "hub"
    _populate_cache(cache, saved, "lab/mer-model")
    env_code = "import os; os.environ['LEARNET_MODEL'] = 'lab/mer-model'\nfrom learnet.hub import load_model\nprint(load_model().source)\n"
    result = _run_offline(cache, env_code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lab/mer-model"


def test_metadata_edited_after_loading_is_saved(saved, tmp_path):
    model = load_model(saved)
    model.metadata["note"] = "checked"
    model.preprocessing = dataclasses.replace(model.preprocessing, face_mode="auto")
    again = load_model(save_model(model, tmp_path / "edited"))
    assert again.metadata["note"] == "checked" and again.face_mode == "auto"
    assert json.loads((tmp_path / "edited" / "config.json").read_text())["num_classes"] == 3


def test_saving_into_the_same_folder_refreshes_the_card(saved):
    model = load_model(saved)
    model.metadata["model_card"] = "Retrained on new clips."
    save_model(model, saved)
    card = (saved / "README.md").read_text()
    assert "Retrained on new clips." in card and "test weights" not in card


# ---- in-process checks of the same paths (the subprocess tests above cannot be traced by mutation tools)

def test_default_source_follows_the_environment(monkeypatch, saved, capsys):
    from learnet import hub

    monkeypatch.delenv("LEARNET_MODEL", raising=False)
    assert hub.default_source() == str(hub.DEFAULT_MODEL_DIR)
    monkeypatch.setenv("LEARNET_MODEL", str(saved))
    assert hub.default_source() == str(saved)
    model = load_model()  # no source: the environment's
    assert model.source == str(saved) and model.revision is None
    assert capsys.readouterr().out == ""  # the Hub mixin's "Loading weights" line is kept off stdout
    assert load_model(saved, revision="v2").revision == "v2"  # a folder keeps the revision it was given
    monkeypatch.delenv("LEARNET_MODEL")
    monkeypatch.setattr(hub, "DEFAULT_MODEL_DIR", saved.parent / "not-shipped")
    with pytest.raises(ModelLoadError, match=f"^the shipped demo weights are missing from {saved.parent / 'not-shipped'}; "
                                             "pass a model folder or Hub id \\(--model, or \\$LEARNET_MODEL\\)$"):
        load_model()


def test_source_parsing_keeps_everything_before_the_last_at():
    assert parse_source("org/name@feature@x") == ("org/name@feature", "x")
    assert parse_source("org/name@") == ("org/name", None)


def test_incomplete_folders_and_bad_config_are_named(tmp_path, saved):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=f"^{empty} is not a LEARNet model folder: config.json, model.safetensors missing$"):
        load_model(empty)
    (empty / "model.pt").write_bytes(b"pickle")
    with pytest.raises(ModelLoadError, match="model.safetensors missing \\(pickled .bin/.pt weights are not loaded; "
                                             "re-save with save_pretrained\\)$"):
        load_model(empty)
    (saved / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match=f"^{saved / 'config.json'} is not valid JSON: Expecting property name"):
        load_model(saved)


def test_hub_ids_resolve_through_the_cache_in_process(saved, tmp_path, monkeypatch):
    import huggingface_hub

    cache = tmp_path / "hub"
    _populate_cache(cache, saved)
    # a tag v1 that points at another commit, with another window, so revisions are really followed
    other = "fedcba9876543210fedcba9876543210fedcba98"
    entry = cache / "models--someorg--learnet-test"
    shutil.copytree(saved, entry / "snapshots" / other)
    config = json.loads((entry / "snapshots" / other / "config.json").read_text())
    (entry / "snapshots" / other / "config.json").write_text(json.dumps({**config, "window": "apex-offset"}))
    (entry / "refs" / "v1").write_text(other)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    for src, revision, commit, window in (("someorg/learnet-test", None, COMMIT, "onset-apex"),
                                          ("someorg/learnet-test@v1", None, other, "apex-offset"),
                                          ("someorg/learnet-test@v1", "main", COMMIT, "onset-apex"),
                                          ("someorg/learnet-test", "v1", other, "apex-offset")):
        model = load_model(src, revision=revision)
        assert (model.source, model.revision, model.window) == (src, commit, window)
        assert model.class_names == CLASSES


@pytest.mark.parametrize("error, message", [
    ("RevisionNotFoundError", "^the Hub repo someorg/m has no revision 'v9'$"),
    ("RepositoryNotFoundError", "^the Hub repo someorg/m does not exist or is private \\(log in with `hf auth login`\\)$"),
    ("HfHubHTTPError", "^could not fetch someorg/m@v9 from the Hugging Face Hub: boom$"),
])
def test_hub_errors_are_one_clear_line(monkeypatch, error, message):
    import httpx
    import huggingface_hub
    from huggingface_hub import errors

    response = httpx.Response(404, request=httpx.Request("GET", "https://huggingface.co/api/models/someorg/m"))
    asked = {}

    def fake_download(repo_id, **kwargs):
        asked.update(repo_id=repo_id, **kwargs)
        raise getattr(errors, error)("boom", response=response)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    with pytest.raises(ModelLoadError, match=message):
        load_model("someorg/m@v9")
    # only the three files of a model are fetched, at the asked revision
    assert asked == {"repo_id": "someorg/m", "revision": "v9",
                     "allow_patterns": ["config.json", "model.safetensors", "README.md"]}
