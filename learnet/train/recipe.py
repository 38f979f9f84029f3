"""The training recipe: every setting that decides what a trained model is, checked when it is made."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..preprocessing import Preprocessing
from .naming import short_hash

DUAL_PHASE: tuple[str, str] = ("onset-apex", "apex-offset")
WINDOW_CHOICES: tuple[str, ...] = ("onset-offset", "onset-apex", "apex-offset", "dual-phase")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")
CLASS_WEIGHTS: tuple[str, ...] = ("balanced", "none")
_PRE = Preprocessing()  # the preprocessing defaults, written once in learnet.preprocessing


@dataclass(frozen=True)
class Recipe:
    """Everything that decides what a trained model is: preprocessing, optimisation, augmentation, protocol.

    Two runs with the same recipe, data and seed give the same predictions on CPU.  The preprocessing settings
    stay flat fields (the recipe's keywords, its `to_dict` and so its digest are unchanged) and are checked
    and read as one `learnet.preprocessing.Preprocessing`: `preprocessing`, or `phase_preprocessing(window)`.
    """

    face_mode: str = _PRE.face_mode
    window: str = _PRE.window  # or "dual-phase": both halves, probabilities averaged
    di_variant: str = _PRE.di_variant
    input_scaling: str = _PRE.input_scaling  # "signed": no motion = 0 = the padding value (learnet.dynamic)
    input_size: int = _PRE.input_size
    stabilise: bool = _PRE.stabilise  # remove head motion frame by frame before pooling (learnet.stabilise)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    class_weights: str = "balanced"
    shift: float = 0.05  # max translation, fraction of the side
    scale: float = 0.05  # max relative zoom in or out
    brightness: float = 0.1  # max additive change, in [0, 1] intensity units; minmax input only (a signed
    # input's constant offset would be motion everywhere)
    flip: bool = False  # horizontal flips swap the face's sides; some MER work finds they hurt
    blur: float = 0.0  # max Gaussian blur sigma (px of the DI): robustness to the resampling a crop went through
    recalibrate_bn: bool = True  # re-estimate BatchNorm statistics on the training DIs after training
    val_subjects: int = 0  # >0: choose the epoch on this many held-out training subjects
    oracle_epoch: bool = False  # choose the epoch on the test subject: NOT a valid estimate

    def __post_init__(self):
        if self.window not in WINDOW_CHOICES:  # dual-phase is a training protocol, not a model's window
            raise ValueError(f"window must be one of {', '.join(WINDOW_CHOICES)}")
        self.preprocessing  # noqa: B018  building it checks face mode, variant, scaling and size
        checks = [
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (self.class_weights in CLASS_WEIGHTS, f"class weights must be one of {', '.join(CLASS_WEIGHTS)}"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (self.lr > 0, "learning rate must be positive"),
            (0 <= self.shift < 0.5 and 0 <= self.scale < 0.5 and 0 <= self.brightness < 1 and 0 <= self.blur <= 3,
             "augmentation out of range"),
            (self.val_subjects >= 0, "val subjects must be 0 or more"),
            (not (self.oracle_epoch and self.val_subjects), "choose the epoch either on validation subjects or by oracle"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def preprocessing(self) -> Preprocessing:
        """What a model trained on this recipe records in its config (a dual-phase model: onset-offset)."""
        return self.phase_preprocessing("onset-offset" if self.window == "dual-phase" else self.window)

    def phase_preprocessing(self, window: str) -> Preprocessing:
        """The preprocessing of one phase's dynamic images (`window`: one of `phases`)."""
        return Preprocessing(input_size=self.input_size, di_variant=self.di_variant, face_mode=self.face_mode,
                             window=window, input_scaling=self.input_scaling, stabilise=self.stabilise)

    @property
    def applied_brightness(self) -> float:
        """The brightness augmentation actually applied: none on signed input (an offset would be motion)."""
        return self.brightness if self.preprocessing.scaling.brightness_augmentation else 0.0

    @property
    def phases(self) -> tuple[str, ...]:
        """The DI windows per sample: one, or the two halves of a dual-phase recipe."""
        return DUAL_PHASE if self.window == "dual-phase" else (self.window,)

    def to_dict(self) -> dict:
        return asdict(self)

    def digest(self) -> str:
        return short_hash(self.to_dict())
