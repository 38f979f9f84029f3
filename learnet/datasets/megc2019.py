"""The MEGC2019 composite reader: CASME II + SAMM + SMIC-HS in one list, subjects namespaced per dataset."""
from __future__ import annotations

import os

from .casme2 import read_casme2
from .samm import read_samm
from .schema import Sample
from .smic import read_smic


def read_megc2019(casme2: str | os.PathLike, samm: str | os.PathLike, smic: str | os.PathLike) -> list[Sample]:
    """The MEGC2019 composite: CASME II + SAMM + SMIC-HS, subjects namespaced per dataset (68 subjects).

    Apply `LABEL_MAPS["megc2019_3c"]` to get the official 442 samples (it holds the three official
    exclusions).
    """
    return read_casme2(casme2) + read_samm(samm) + read_smic(smic)
