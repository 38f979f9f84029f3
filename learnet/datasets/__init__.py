"""Micro-expression datasets: one `Sample` schema, readers for each release, named label maps, `validate`.

Every reader returns `Sample`s with the same fields, whatever the release wrote:

- `subject` is namespaced by dataset (`casme2/sub01`, `samm/006`, `smic/s1`), so subjects of a composite never
  merge into one LOSO fold;
- `frames` lists the frame files in natural order (img2 < img10 < img100) and `onset`, `apex`, `offset` are
  0-based indices into that list, however the release numbers its frames (CASME II counts from the first
  recorded frame, SAMM and SMIC use absolute numbers in the recording);
- a missing apex becomes the middle of onset..offset and the sample says so (`apex_estimated`, `notes`).

Readers never raise on a bad annotation row: the row is kept with its problem in `issues`, and `validate`
reports every problem with the row at fault, so one pass over a dataset shows everything that needs fixing.

Sample counts of the named label maps (on the complete datasets):

=================  =====  ===============================================================================
map                count  classes
=================  =====  ===============================================================================
``casme2_5c``        246  happiness, surprise, disgust, repression, others (fear, sadness dropped)
``casme2_3c_all``    147  negative, positive, surprise (MEGC mapping, *without* the 3 official exclusions)
``megc2019_3c``      442  negative, positive, surprise on CASME II (145) + SAMM (133) + SMIC-HS (164)
``samm_5c``          136  anger, contempt, happiness, surprise, other
``samm_3c``          133  negative, positive, surprise
``smic_3c``          164  negative, positive, surprise
``casme_sq_4c``       57  negative, positive, surprise, others (CAS(ME)^2 micro-expressions)
=================  =====  ===============================================================================

Modules: `schema` (the `Sample` every reader returns, `validate`, `summarize`), `rows` (the row loop and
frame-number handling all readers share), `spreadsheet` (reading .xlsx/.csv annotation sheets), one reader
each in `casme2`, `samm`, `smic`, `casme_sq` and `megc2019`, `manifest` (the project's own CSV format) and
`labels` (the named label maps).  Everything public is imported here: `from learnet.datasets import X`.
"""
from __future__ import annotations

from .casme2 import casme2_frames_root, read_casme2
from .casme_sq import read_casme_sq
from .labels import (
    DEFAULT_LABEL_MAPS, LABEL_MAPS, LABEL_SPELLING, MEGC2019_EXCLUDED, LabelMap, get_label_map, identity_label_map,
)
from .manifest import MANIFEST_COLUMNS, read_manifest, write_manifest
from .megc2019 import read_megc2019
from .rows import DATASET_FPS
from .samm import read_samm
from .schema import DatasetError, Problem, Sample, count_video_frames, frame_number, summarize, validate
from .smic import read_smic
from .spreadsheet import read_table, sheet_names

__all__ = [
    "DATASET_FPS", "DEFAULT_LABEL_MAPS", "LABEL_MAPS", "LABEL_SPELLING", "MANIFEST_COLUMNS", "MEGC2019_EXCLUDED",
    "DatasetError", "LabelMap", "Problem", "Sample", "casme2_frames_root", "count_video_frames", "frame_number",
    "get_label_map", "identity_label_map", "read_casme2", "read_casme_sq", "read_manifest", "read_megc2019",
    "read_samm", "read_smic", "read_table", "sheet_names", "summarize", "validate", "write_manifest",
]
