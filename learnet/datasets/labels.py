"""Label maps: the named mappings from each dataset's own emotion labels onto the classes a model learns.

`LABEL_MAPS` holds the conventional protocols (CASME II 5 classes, the MEGC2019 3-class composite, ...; their
sample counts are in the package docstring), `get_label_map` finds one by name, JSON file, `identity` or
`auto`.  `fix_label` mends the releases' known spelling slips on reading.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .schema import DatasetError, Sample

# Spelling slips in the releases' annotation files, fixed on reading (and noted on the sample).
LABEL_SPELLING: dict[str, str] = {"happyiness": "happiness"}


def fix_label(label: str) -> tuple[str, tuple[str, ...]]:
    """A label with a known spelling slip mended (`LABEL_SPELLING`), and the note saying so (or none)."""
    fixed = LABEL_SPELLING.get(label.lower())
    if fixed:
        return fixed, (f"label {label!r} read as {fixed!r}",)
    return label, ()


@dataclass(frozen=True)
class LabelMap:
    """A named mapping from each dataset's own labels onto the classes a model is trained on.

    `rules[dataset][label]` is a class name, or None for a label the protocol leaves out on purpose (e.g.
    CASME II "others" in MEGC2019).  `rules["*"]` applies to any dataset (manifests); labels are compared
    in lower case.  `exclude` lists sample ids a protocol drops by name.  `expected` is the sample count on
    the complete datasets.
    """

    name: str
    classes: tuple[str, ...]
    rules: Mapping[str, Mapping[str, str | None]]
    exclude: frozenset[str] = frozenset()
    expected: int | None = None
    description: str = ""

    def lookup(self, sample: Sample) -> tuple[str, str | None]:
        """("class", name), ("excluded", None) or ("unknown", None) for one sample."""
        if sample.id in self.exclude:
            return "excluded", None
        label = sample.label.strip().lower()
        for key in (sample.dataset, "*"):
            table = self.rules.get(key)
            if table is not None and label in table:
                target = table[label]
                return ("class", target) if target is not None else ("excluded", None)
        return "unknown", None

    def apply(self, samples: Iterable[Sample]) -> list[Sample]:
        """The samples this map keeps, with `target` set; excluded labels and ids are dropped.

        Raises:
            DatasetError: a label the map does not know (run `validate` to see every row at fault).
        """
        kept, unknown = [], Counter()
        for s in samples:
            status, target = self.lookup(s)
            if status == "class":
                kept.append(replace(s, target=target))
            elif status == "unknown":
                unknown[(s.dataset, s.label)] += 1
        if unknown:
            listed = ", ".join(f"{d}:{lab!r} ({n})" for (d, lab), n in sorted(unknown.items()))
            raise DatasetError(f"label map {self.name} does not know the label(s) {listed}")
        return kept

    def to_dict(self) -> dict:
        """JSON-able form (for run configs and model cards)."""
        return {
            "name": self.name, "classes": list(self.classes),
            "rules": {d: dict(t) for d, t in self.rules.items()}, "exclude": sorted(self.exclude),
            "expected": self.expected, "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> LabelMap:
        """Inverse of `to_dict`; also reads the short file form `{"classes": [...], "map": {label: class}}`."""
        classes = data.get("classes")
        if not classes:
            raise DatasetError("a label map needs a non-empty 'classes' list")
        rules = data.get("rules") or {"*": data.get("map") or {c: c for c in classes}}
        rules = {d: {str(k).lower(): v for k, v in t.items()} for d, t in rules.items()}
        for d, t in rules.items():
            bad = sorted({v for v in t.values() if v is not None and v not in classes})
            if bad:
                raise DatasetError(f"label map {data.get('name', '?')}: {', '.join(bad)} not among its classes")
        return cls(str(data.get("name", "custom")), tuple(classes), rules, frozenset(data.get("exclude", ())),
                   data.get("expected"), str(data.get("description", "")))


def identity_label_map(samples: Iterable[Sample], name: str = "identity") -> LabelMap:
    """Every label is its own class; classes sorted by name (so the order does not depend on the data order)."""
    labels = sorted({s.label.strip().lower() for s in samples})
    if not labels:
        raise DatasetError("no samples, so no classes")
    return LabelMap(name, tuple(labels), {"*": {lab: lab for lab in labels}},
                    description="each label is its own class")


def _with_identity(rules: dict[str, dict[str, str | None]], classes: Sequence[str]) -> dict:
    # Manifests that already use the class names (e.g. learnet.synth) map onto themselves.
    return {**rules, "*": {c: c for c in classes}}


_MEGC_CASME2 = {"happiness": "positive", "disgust": "negative", "repression": "negative", "surprise": "surprise",
                "others": None, "fear": None, "sadness": None}
_MEGC_SAMM = {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
              "sadness": "negative", "happiness": "positive", "surprise": "surprise", "other": None}
_MEGC_SMIC = {"negative": "negative", "positive": "positive", "surprise": "surprise"}
_3C = ("negative", "positive", "surprise")
MEGC2019_EXCLUDED: frozenset[str] = frozenset({"casme2/sub04/EP12_01f", "casme2/sub05/EP12_03f", "casme2/sub24/EP02_07"})

LABEL_MAPS: dict[str, LabelMap] = {
    m.name: m
    for m in (
        LabelMap(
            "casme2_5c", ("happiness", "surprise", "disgust", "repression", "others"),
            _with_identity({"casme2": {"happiness": "happiness", "surprise": "surprise", "disgust": "disgust",
                                       "repression": "repression", "others": "others", "fear": None,
                                       "sadness": None}},
                           ("happiness", "surprise", "disgust", "repression", "others")),
            expected=246,
            description="CASME II 5 classes, 246 samples: happiness 32, surprise 25, disgust 63, repression 27, "
                        "others 99; fear and sadness dropped",
        ),
        LabelMap(
            "casme2_3c_all", _3C, _with_identity({"casme2": _MEGC_CASME2}, _3C), expected=147,
            description="CASME II in the MEGC2019 classes, all 147 samples (the official list drops 3: 145)",
        ),
        LabelMap(
            "megc2019_3c", _3C, _with_identity({"casme2": _MEGC_CASME2, "samm": _MEGC_SAMM, "smic": _MEGC_SMIC}, _3C),
            exclude=MEGC2019_EXCLUDED, expected=442,
            description="MEGC2019 composite, 442 samples (CASME II 145, SAMM 133, SMIC-HS 164): negative 250, "
                        "positive 109, surprise 83",
        ),
        LabelMap(
            "samm_5c", ("anger", "contempt", "happiness", "surprise", "other"),
            _with_identity({"samm": {"anger": "anger", "contempt": "contempt", "happiness": "happiness",
                                     "surprise": "surprise", "other": "other", "disgust": None, "fear": None,
                                     "sadness": None}},
                           ("anger", "contempt", "happiness", "surprise", "other")),
            expected=136,
            description="SAMM 5 classes, 136 samples: anger 57, contempt 12, happiness 26, surprise 15, other 26",
        ),
        LabelMap(
            "samm_3c", _3C, _with_identity({"samm": _MEGC_SAMM}, _3C), expected=133,
            description="SAMM in the MEGC2019 classes, 133 samples: negative 92, positive 26, surprise 15",
        ),
        LabelMap(
            "smic_3c", _3C, _with_identity({"smic": _MEGC_SMIC}, _3C), expected=164,
            description="SMIC-HS, 164 samples: negative 70, positive 51, surprise 43",
        ),
        LabelMap(
            "casme_sq_4c", ("negative", "positive", "surprise", "others"),
            _with_identity({"casme_sq": {
                "negative": "negative", "disgust": "negative", "anger": "negative", "sadness": "negative",
                "fear": "negative", "contempt": "negative", "positive": "positive", "happiness": "positive",
                "surprise": "surprise", "others": "others", "other": "others"}},
                ("negative", "positive", "surprise", "others")),
            expected=57,
            description="CAS(ME)^2 micro-expressions, 57 samples: negative, positive, surprise, others",
        ),
    )
}

# The map a dataset gets when none is named (`--label-map auto`).
DEFAULT_LABEL_MAPS: dict[frozenset[str], str] = {
    frozenset({"casme2"}): "casme2_5c",
    frozenset({"samm"}): "samm_5c",
    frozenset({"smic"}): "smic_3c",
    frozenset({"casme_sq"}): "casme_sq_4c",
    frozenset({"casme2", "samm", "smic"}): "megc2019_3c",
}


def get_label_map(spec: str | os.PathLike | LabelMap, samples: Sequence[Sample] = ()) -> LabelMap:
    """A label map by name (`LABEL_MAPS`), from a JSON file, `identity`, or `auto`.

    `auto` picks the conventional map of the datasets present (CASME II alone -> `casme2_5c`, the three
    MEGC2019 sets -> `megc2019_3c`, ...), else `identity`.
    """
    if isinstance(spec, LabelMap):
        return spec
    spec = str(spec)
    if spec in LABEL_MAPS:
        return LABEL_MAPS[spec]
    if spec == "identity":
        return identity_label_map(samples)
    if spec == "auto":
        name = DEFAULT_LABEL_MAPS.get(frozenset(s.dataset for s in samples))
        return LABEL_MAPS[name] if name else identity_label_map(samples)
    path = Path(spec)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise DatasetError(f"the label map file {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"the label map file {path} is not valid JSON: {exc}") from exc
        return LabelMap.from_dict({"name": path.stem, **data})
    raise DatasetError(
        f"unknown label map {spec!r}; choose one of {', '.join(LABEL_MAPS)}, identity, auto, or a .json file"
    )
