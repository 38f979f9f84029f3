"""Loading and saving LEARNet weights the Hugging Face Hub way.

A model is a folder written by `save_pretrained`: `config.json` (the constructor arguments: classes and the
preprocessing the weights expect), `model.safetensors` and a model card `README.md`.  A source is either such
a folder or a Hub repository id, optionally pinned to a revision as `org/name@rev`.  Weights are only ever
read from safetensors (never pickle), and strictly: a missing or unexpected tensor is an error.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path

from .model import LEARNet
from .preprocessing import Preprocessing

ENV_VAR = "LEARNET_MODEL"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "learnet-synthetic-megc3"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelLoadError(RuntimeError):
    """Weights could not be found or do not fit the model; the message says what to do."""


def default_source() -> str:
    """`$LEARNET_MODEL` if set, else the shipped demo weights folder."""
    return os.environ.get(ENV_VAR) or str(DEFAULT_MODEL_DIR)


def parse_source(source: str) -> tuple[str, str | None]:
    """Split `org/name@rev` into (repo id, revision); a plain id gives revision None."""
    if "@" in source:
        repo_id, revision = source.rsplit("@", 1)
        return repo_id, revision or None
    return source, None


def _from_folder(folder: Path, source: str, revision: str | None) -> LEARNet:
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE) if not (folder / name).is_file()]
    if missing:
        hint = " (pickled .bin/.pt weights are not loaded; re-save with save_pretrained)" if any(
            folder.glob("*.bin")) or any(folder.glob("*.pt")) else ""
        raise ModelLoadError(f"{source} is not a LEARNet model folder: {', '.join(missing)} missing{hint}")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{folder / CONFIG_FILE} is not valid JSON: {exc}") from exc
    try:  # the settings first, so a bad one is named as such, not as weights that do not fit
        Preprocessing.from_dict(config if isinstance(config, dict) else {})
    except ValueError as exc:
        raise ModelLoadError(f"{folder / CONFIG_FILE} has an invalid preprocessing setting: {exc}") from exc
    try:
        # The mixin prints "Loading weights from local directory" to stdout: keep `--json` output clean.
        with contextlib.redirect_stdout(io.StringIO()):
            model = LEARNet.from_pretrained(str(folder), strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        # torch puts the tensor names on the lines after its "Error(s) in loading state_dict" header: keep them.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        detail = "; ".join(lines[1:]) if len(lines) > 1 else lines[0]
        raise ModelLoadError(
            f"the weights in {source} do not fit a LEARNet built from its config.json "
            f"({len(config.get('class_names') or [])} classes): {detail}"
        ) from exc
    model.source = source
    model.revision = revision
    return model.eval()


def load_model(source: str | os.PathLike | None = None, revision: str | None = None) -> LEARNet:
    """Load LEARNet weights from a local `save_pretrained` folder or a Hub repo.

    Args:
        source: a folder, or `org/name` / `org/name@revision` on the Hugging Face Hub. None means
            `$LEARNET_MODEL`, else the demo weights shipped in `models/`.
        revision: a branch, tag or commit (overrides one given with `@`).

    The returned model is in eval mode and carries `.source` and `.revision` (the resolved commit for Hub
    repos) for reports. Network access happens only for Hub ids not already in the cache; with
    `HF_HUB_OFFLINE=1` only the cache is used.

    Raises:
        ModelLoadError: with a sentence saying what was looked for and how to fix it.
    """
    source = str(source) if source is not None else default_source()
    path = Path(source).expanduser()
    if path.is_dir():
        return _from_folder(path, source, revision)
    repo_id, at_revision = parse_source(source)
    revision = revision or at_revision
    if not _REPO_ID.match(repo_id):
        if source == str(DEFAULT_MODEL_DIR):
            raise ModelLoadError(
                f"the shipped demo weights are missing from {DEFAULT_MODEL_DIR}; pass a model folder or Hub id "
                f"(--model, or ${ENV_VAR})"
            )
        raise ModelLoadError(f"{source} is neither a model folder nor a Hub repo id like org/name[@revision]")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        folder = snapshot_download(
            repo_id, revision=revision, allow_patterns=[CONFIG_FILE, WEIGHTS_FILE, "README.md"]
        )
    except RevisionNotFoundError as exc:
        raise ModelLoadError(f"the Hub repo {repo_id} has no revision {revision!r}") from exc
    except RepositoryNotFoundError as exc:
        raise ModelLoadError(f"the Hub repo {repo_id} does not exist or is private (log in with `hf auth login`)") from exc
    except LocalEntryNotFoundError as exc:
        raise ModelLoadError(
            f"could not fetch {source} from the Hugging Face Hub: no network (or HF_HUB_OFFLINE=1) and it is not "
            "in the local cache; download it once with network access, or pass a local folder"
        ) from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelLoadError(f"could not fetch {source} from the Hugging Face Hub: {exc}") from exc
    return _from_folder(Path(folder), source, Path(folder).name)


def save_model(model: LEARNet, folder: str | os.PathLike) -> Path:
    """Write `config.json`, `model.safetensors` and a model card to `folder` (created if needed).

    The config is taken from the model's current attributes, so edits after construction (e.g. to
    `metadata`) are saved too.
    """
    folder = Path(folder)
    model.save_pretrained(folder, config=model.hub_config())
    # save_pretrained keeps an existing README.md; the card must follow the config it describes.
    model.generate_model_card().save(folder / "README.md")
    return folder
