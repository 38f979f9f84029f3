"""Dataset readers, label maps, manifest round trip and validation on generated fictitious datasets."""
from __future__ import annotations

import csv
import json
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest

from dataset_fixtures import (
    CASME2_ROWS, SAMM_ROWS, make_casme2, make_casme_sq, make_manifest, make_samm, make_smic, save_xlsx, write_frames,
)
from learnet import datasets as D
from learnet.datasets import labels as L
from learnet.datasets import manifest as M
from learnet.datasets import rows as R
from learnet.datasets import spreadsheet as S
from learnet.video import ClipError, ClipLimits


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("datasets")
    return {
        "casme2": make_casme2(base / "CASME2"),
        "samm": make_samm(base / "SAMM"),
        "smic": make_smic(base / "SMIC"),
        "casme_sq": make_casme_sq(base / "CASME_sq"),
    }


def by_id(samples):
    return {s.id: s for s in samples}


# ------------------------------------------------------------------------------------------------ CASME II

def test_casme2_rows_subjects_and_namespacing(roots):
    samples = D.read_casme2(roots["casme2"])
    assert len(samples) == 11
    assert sorted({s.subject for s in samples}) == [
        "casme2/sub01", "casme2/sub02", "casme2/sub04", "casme2/sub05", "casme2/sub24"]
    assert all(s.fps == 200.0 and s.dataset == "casme2" for s in samples)
    assert D.validate(samples) == []


def test_casme2_natural_frame_order_and_frame_numbers_to_indices(roots):
    s = by_id(D.read_casme2(roots["casme2"]))["casme2/sub01/EP04_02"]
    # img95..img106: onset 96 -> index 1, apex 100 -> 5, offset 105 -> 10 (a plain sort puts img100 first).
    assert [Path(f).stem for f in s.frames[:7]] == ["img95", "img96", "img97", "img98", "img99", "img100", "img101"]
    assert (s.onset, s.apex, s.offset) == (1, 5, 10)
    assert Path(s.frames[s.apex]).name == "img100.jpg"
    assert s.aus == "R4+L10" and s.source == "CASME2-coding-20140508.xlsx row 4"


def test_casme2_slash_apex_becomes_middle_frame_and_is_reported(roots):
    samples = by_id(D.read_casme2(roots["casme2"]))
    s = samples["casme2/sub01/EP03_02"]  # frames 10..17, onset 11 -> 1, offset 16 -> 6, apex "/" -> (1+6)//2
    assert (s.onset, s.apex, s.offset, s.apex_estimated) == (1, 3, 6, True)
    assert "apex not annotated" in s.notes[0]
    assert sum(x.apex_estimated for x in samples.values()) == 2
    assert "apex not annotated for 2 samples" in D.summarize(list(samples.values()))


def test_casme2_cropped_release_and_ambiguous_root(tmp_path, roots):
    root = make_casme2(tmp_path / "C2", release="cropped")
    samples = D.read_casme2(root)
    assert len(samples) == 11 and Path(samples[0].frames[0]).name == "reg_img1.jpg"
    make_casme2(tmp_path / "C2", release="raw")  # both releases side by side
    with pytest.raises(D.DatasetError, match="several CASME II releases .*CASME2_RAW_selected, Cropped"):
        D.read_casme2(root)
    # Pointing at one release folder finds the coding sheet one level up.
    assert len(D.read_casme2(root / "Cropped")) == 11


def test_casme2_label_maps_golden_counts(roots):
    samples = D.read_casme2(roots["casme2"])
    five = D.LABEL_MAPS["casme2_5c"].apply(samples)
    assert len(five) == 9
    assert Counter(s.target for s in five) == {"disgust": 3, "repression": 2, "others": 2, "happiness": 1, "surprise": 1}
    three_all = D.LABEL_MAPS["casme2_3c_all"].apply(samples)
    assert Counter(s.target for s in three_all) == {"negative": 5, "positive": 1, "surprise": 1}
    megc = D.LABEL_MAPS["megc2019_3c"].apply(samples)
    assert sorted(s.id for s in three_all if s not in megc) == sorted(D.MEGC2019_EXCLUDED)
    assert Counter(s.target for s in megc) == {"negative": 2, "positive": 1, "surprise": 1}


# ------------------------------------------------------------------------------------------------ SAMM

def test_samm_preamble_absolute_frames_and_missing_offset(roots):
    samples = by_id(D.read_samm(roots["samm"]))
    assert len(samples) == 8
    assert sorted({s.subject for s in samples.values()}) == ["samm/006", "samm/007", "samm/011"]
    s = samples["samm/006/006_1_2"]  # frames 5560..5567; 5561/5564/5566 -> 1/4/6
    assert (s.onset, s.apex, s.offset) == (1, 4, 6) and s.source == "SAMM_Micro_FACS_Codes_v2.xlsx row 5"
    assert s.extra["objective_class"] == "4"
    late = samples["samm/007/007_5_1"]  # offset -1: the clip's last frame
    assert late.offset == 7 and "offset not annotated" in late.notes[0]


def test_samm_grayscale_frames_are_read_as_rgb_window(roots):
    s = by_id(D.read_samm(roots["samm"]))["samm/006/006_1_2"]
    frames, onset, apex, offset = s.read_window()
    assert frames.shape == (6, 16, 16, 3) and frames.dtype == np.uint8  # indices 1..6 inclusive
    assert (onset, apex, offset) == (0, 3, 5)
    assert np.array_equal(frames[..., 0], frames[..., 2])  # gray expanded to three equal channels


def test_samm_label_maps_golden_counts(roots):
    samples = D.read_samm(roots["samm"])
    assert Counter(s.target for s in D.LABEL_MAPS["samm_5c"].apply(samples)) == {
        "anger": 1, "contempt": 1, "happiness": 1, "surprise": 1, "other": 1}
    assert Counter(s.target for s in D.LABEL_MAPS["samm_3c"].apply(samples)) == {
        "negative": 5, "positive": 1, "surprise": 1}


def test_samm_header_missing_is_a_clear_error(tmp_path):
    path = tmp_path / "SAMM_codes.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["just a note"])
    book.save(path)
    (tmp_path / "006").mkdir()
    with pytest.raises(D.DatasetError, match="no header row with the columns Subject, Filename"):
        D.read_samm(tmp_path)


# ------------------------------------------------------------------------------------------------ SMIC

def test_smic_labels_from_folders_and_middle_apex(roots):
    samples = D.read_smic(roots["smic"])  # the SMIC folder; HS is found inside
    assert len(samples) == 6  # non_micro is ignored
    assert Counter(s.label for s in samples) == {"negative": 3, "positive": 2, "surprise": 1}
    s = by_id(samples)["smic/s1/s1_sur_01"]  # 9 frames
    assert (s.onset, s.apex, s.offset, s.fps, s.apex_estimated) == (0, 4, 8, 100.0, True)
    assert len(D.LABEL_MAPS["smic_3c"].apply(samples)) == 6
    assert D.read_smic(roots["smic"] / "HS")[0].id == samples[0].id


# ------------------------------------------------------------------------------------------------ CAS(ME)^2

def test_casme_sq_headerless_typo_macro_filter_and_naming_rules(roots):
    samples = D.read_casme_sq(roots["casme_sq"])
    assert len(samples) == 4  # the macro-expression row is left out
    assert len(D.read_casme_sq(roots["casme_sq"], include_macro=True)) == 5
    happy = samples[1]
    assert happy.label == "happiness" and "happyiness" in happy.notes[0]
    # onset 20 -> index 19, apex 24 -> 23, offset 0 (not coded) -> 23 + (23 - 19) = 27
    assert (happy.onset, happy.apex, happy.offset) == (19, 23, 27)
    assert happy.subject == "casme_sq/s15" and Path(happy.path).name == "15_0101disgustingteeth"
    assert samples[2].subject == "casme_sq/s16" and Path(samples[2].path).name == "16_0401girlcrashing"
    assert Counter(s.target for s in D.LABEL_MAPS["casme_sq_4c"].apply(samples)) == {
        "negative": 1, "positive": 1, "surprise": 1, "others": 1}
    assert D.validate(samples) == []


# ------------------------------------------------------------------------------------------------ MEGC2019

def test_megc2019_composite_golden_count(roots):
    samples = D.read_megc2019(roots["casme2"], roots["samm"], roots["smic"])
    assert len(samples) == 11 + 8 + 6 and len({s.subject for s in samples}) == 5 + 3 + 3
    label_map = D.get_label_map("auto", samples)
    assert label_map.name == "megc2019_3c" and label_map.expected == 442
    kept = label_map.apply(samples)
    # CASME II 4 + SAMM 7 + SMIC 6
    assert len(kept) == 17
    assert Counter(s.target for s in kept) == {"negative": 2 + 5 + 3, "positive": 1 + 1 + 2, "surprise": 1 + 1 + 1}
    assert "label map megc2019_3c gives 442 samples on the complete datasets; 17 here" in D.summarize(kept, label_map)


def test_label_map_docs_state_expected_counts():
    expected = {"casme2_5c": 246, "megc2019_3c": 442, "samm_5c": 136, "samm_3c": 133, "smic_3c": 164,
                "casme2_3c_all": 147, "casme_sq_4c": 57}
    assert {n: m.expected for n, m in D.LABEL_MAPS.items()} == expected
    for name, count in expected.items():
        assert str(count) in D.LABEL_MAPS[name].description
        assert f"``{name}``" in D.__doc__ and str(count) in D.__doc__


def test_label_map_unknown_label_and_custom_file(tmp_path, roots):
    samples = D.read_samm(roots["samm"])
    with pytest.raises(D.DatasetError, match=r"label map smic_3c does not know the label\(s\) samm:'Anger' \(1\)"):
        D.LABEL_MAPS["smic_3c"].apply(samples)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"classes": ["neg", "pos"], "map": {"Anger": "neg", "Happiness": "pos",
                                                                   "Other": None}}))
    custom = D.get_label_map(path)
    assert custom.name == "mine"
    status = Counter(custom.lookup(s)[0] for s in samples)
    assert status == {"class": 2, "excluded": 1, "unknown": 5}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"classes": ["neg"], "map": {"anger": "angry"}}))
    with pytest.raises(D.DatasetError, match="angry not among its classes"):
        D.get_label_map(bad)
    with pytest.raises(D.DatasetError, match="unknown label map 'nope'"):
        D.get_label_map("nope")
    assert D.LabelMap.from_dict(D.LABEL_MAPS["megc2019_3c"].to_dict()) == D.LABEL_MAPS["megc2019_3c"]


# ------------------------------------------------------------------------------------------------ manifest

def test_manifest_reader(tmp_path):
    path = make_manifest(tmp_path)
    samples = D.read_manifest(path)
    assert len(samples) == 12 and len({s.subject for s in samples}) == 4
    s = samples[2]  # every third row has an empty apex
    assert s.subject == "synth/p00" and s.id == "synth/p00/clip02"
    assert (s.onset, s.apex, s.offset, s.apex_estimated) == (1, 3, 6, True)
    assert samples[0].apex == 4 and not samples[0].apex_estimated
    assert Path(s.path) == tmp_path / "clips" / "p00" / "clip02" and len(s.frames) == 8
    assert s.extra == {"mask": "masks/p00_clip02.png"} and s.source == f"{path} line 4"
    identity = D.get_label_map("auto", samples)
    assert identity.classes == ("negative", "positive", "surprise")
    assert D.validate(samples, identity) == []


def test_manifest_round_trip(tmp_path, roots):
    original = D.read_samm(roots["samm"])
    path = D.write_manifest(original, tmp_path / "out" / "samm.csv")
    again = D.read_manifest(path)
    fields = lambda s: (s.id, Path(s.path).resolve(), s.frames, s.fps, s.onset, s.apex, s.offset, s.label, s.aus,
                        s.apex_estimated, dict(s.extra))  # noqa: E731
    assert [fields(s) for s in again] == [fields(s) for s in original]
    # Below the CSV's folder, paths are written relative to it.
    local = D.write_manifest(D.read_manifest(make_manifest(tmp_path / "m")), tmp_path / "m" / "copy.csv")
    with open(local, newline="") as f:
        assert next(csv.DictReader(f))["path"] == "clips/p00/clip00"


def test_manifest_video_clip_and_window(tmp_path):
    from dataset_fixtures import class_clip
    from learnet.video import write_video

    frames = class_clip(1, 10, 32, seed=3)
    write_video(tmp_path / "v.avi", frames, 25.0)
    (tmp_path / "m.csv").write_text("dataset,subject,clip,path,fps,onset,apex,offset,label,aus\n"
                                    "mine,a,c1,v.avi,25,2,,7,positive,\n")
    [s] = D.read_manifest(tmp_path / "m.csv")
    assert s.is_video and s.apex == 4 and D.validate([s]) == []
    window, onset, apex, offset = s.read_window()
    assert window.shape == (6, 32, 32, 3) and (onset, apex, offset) == (0, 2, 5)
    # MJPG is lossy: check the window is frames 2..7 by which shift of the original matches best.
    errors = [np.abs(window.astype(int) - frames[k : k + 6].astype(int)).mean() for k in range(5)]
    assert int(np.argmin(errors)) == 2


@pytest.mark.parametrize("text, message", [
    ("dataset,subject,path,label\nx,a,c,neg\n", r"lacks the column\(s\) clip"),
    ("dataset,subject,clip,path,onset,label\nx,a,c,p,one,neg\n", r"/m.csv line 2: onset must be a whole frame index"),
    ("dataset,subject,clip,path,fps,label\nx,a,c,p,fast,neg\n", r"line 2: fps must be a number, got 'fast'"),
    ("dataset,subject,clip,path,label\n\nx,,c,p,neg\n", r"/m.csv line 3: dataset, subject and path must not be empty"),
    ("", r"is empty"),
])
def test_manifest_format_errors_name_the_line(tmp_path, text, message):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(D.DatasetError, match=message):
        D.read_manifest(tmp_path / "m.csv")


# ------------------------------------------------------------------------------------------------ validate

def test_validate_reports_each_problem_with_its_row(tmp_path):
    path = make_manifest(tmp_path, subjects=2, per_subject=2)
    os.remove(tmp_path / "clips" / "p00" / "clip01" / "frame3.png")  # a hole in the numbering
    rows = path.read_text().splitlines()
    rows[3] = rows[3].replace(",1,,6,", ",5,4,6,")  # line 4: apex before onset
    rows[4] = rows[4].replace(",1,4,6,", ",1,4,9,").replace("surprise", "angry")  # offset past the end
    rows.append(rows[1])  # a duplicate of line 2
    rows.append("synth,p09,gone,clips/p09/gone,30,1,,5,negative,")
    path.write_text("\n".join(rows) + "\n")
    samples = D.read_manifest(path)
    label_map = D.LABEL_MAPS["megc2019_3c"]
    problems = [str(p).replace(str(path), "manifest.csv") for p in D.validate(samples, label_map)]
    assert problems == [
        "manifest.csv line 3: synth/p00/clip01: 1 frame(s) missing from the numbering (3)",
        "manifest.csv line 4: synth/p01/clip00: apex 4 lies outside onset..offset (5..6)",
        "manifest.csv line 5: synth/p01/clip01: label 'angry' is not in label map megc2019_3c "
        "(negative, positive, surprise)",
        "manifest.csv line 5: synth/p01/clip01: offset 9 lies outside the clip (8 frames, last index 7)",
        "manifest.csv line 6: synth/p00/clip00: duplicate sample id (also at manifest.csv line 2)",
        f"manifest.csv line 7: synth/p09/gone: the clip {tmp_path / 'clips' / 'p09' / 'gone'} does not exist",
    ]


def test_validate_reports_reader_issues_for_annotations(tmp_path):
    root = make_casme2(tmp_path / "C2")
    book = openpyxl.load_workbook(root / "CASME2-coding-20140508.xlsx")
    sheet = book.active
    sheet.cell(row=2, column=6, value=40)  # EP02_01f offset 40: frames are img1..img8
    sheet.cell(row=3, column=2, value="EP99_99")  # no such folder
    book.save(root / "CASME2-coding-20140508.xlsx")
    os.remove(root / "CASME2_RAW_selected" / "sub01" / "EP04_02" / "img100.jpg")  # the apex frame
    problems = [str(p) for p in D.validate(D.read_casme2(root))]
    assert problems == [
        "CASME2-coding-20140508.xlsx row 2: casme2/sub01/EP02_01f: offset frame 40 lies outside the clip's frames (1..8)",
        f"CASME2-coding-20140508.xlsx row 3: casme2/sub01/EP99_99: the clip folder "
        f"{root / 'CASME2_RAW_selected' / 'sub01' / 'EP99_99'} does not exist",
        "CASME2-coding-20140508.xlsx row 4: casme2/sub01/EP04_02: apex frame 100 is missing from the clip folder",
    ]
    assert len(CASME2_ROWS) == 11 and len(SAMM_ROWS) == 8  # the tables the golden counts come from


def test_read_window_rejects_a_bad_window(roots):
    s = D.read_casme2(roots["casme2"])[0]
    with pytest.raises(D.DatasetError, match="the window onset=5..offset=2 is not inside the clip"):
        replace(s, onset=5, offset=2).read_window()


def test_frame_number():
    assert [D.frame_number(n) for n in ("img46.jpg", "reg_img7.jpg", "006_05562.jpg", "image586299.bmp", "x.png")] == [
        46, 7, 5562, 586299, None]


# ------------------------------------------------------------------------------------------------ spreadsheet cells

def test_cell_parsing_turns_release_cells_into_schema_types():
    cells = (None, True, 7, np.int64(8), 9.0, 9.5, float("inf"), float("nan"), " 12 ", "-3", "4.00", "4.5", "/", "x1")
    assert [S.cell_int(v) for v in cells] == [None, None, 7, 8, 9, None, None, None, 12, -3, 4, None, None, None]
    assert [S.cell_text(v) for v in (None, 12.0, 12.5, "  a b ", 3)] == ["", "12", "12.5", "a b", "3"]
    assert S.norm_header(" Onset-Frame (No.)") == "onsetframeno" and S.norm_header(None) == ""
    assert [S.action_units(v) for v in ("1+2", "R4, L10", "4;7  9", "/", "-", None, 12.0, "1+/+2")] == [
        "1+2", "R4+L10", "4+7+9", "", "", "", "12", "1+2"]


def test_read_table_csv_xlsx_sheets_and_errors(tmp_path):
    (tmp_path / "A.CSV").write_text("\ufeffSubject,Filename\n1,EP01\n", encoding="utf-8")
    assert D.read_table(tmp_path / "A.CSV") == [["Subject", "Filename"], ["1", "EP01"]]  # BOM dropped
    assert D.sheet_names(tmp_path / "A.CSV") == []
    (tmp_path / "q.csv").write_bytes(b'Notes,x\r\n"two\r\nlines",y\r\n')  # a quoted cell keeps its line break
    assert D.read_table(tmp_path / "q.csv") == [["Notes", "x"], ["two\r\nlines", "y"]]
    book = save_xlsx(tmp_path / "CODES.XLSX", {"first": [["a", 1]], "second": [["b", 2.5], [None, "c"]]})
    assert D.sheet_names(book) == ["first", "second"]
    assert D.read_table(book) == [["a", 1]]
    assert D.read_table(book, "second") == D.read_table(book, 1) == [["b", 2.5], [None, "c"]]
    macro = save_xlsx(tmp_path / "m.xlsm", {"s": [["x"]]})
    assert D.read_table(macro) == [["x"]]
    with pytest.raises(D.DatasetError, match=r"^the annotation file .*/gone.xlsx does not exist$"):
        D.read_table(tmp_path / "gone.xlsx")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf")
    with pytest.raises(D.DatasetError, match=r"^old.xls: annotation files must be .xlsx or .csv \(save .xls files as .xlsx\)$"):
        D.read_table(tmp_path / "old.xls")
    (tmp_path / "bad.xlsx").write_text("not a workbook")
    with pytest.raises(D.DatasetError, match=r"^bad.xlsx could not be read as an .xlsx workbook: File is not a zip file$"):
        D.read_table(tmp_path / "bad.xlsx")


def test_find_header_takes_the_first_matching_row_and_the_first_of_repeated_columns():
    rows = [["A preamble"], [], ["Subject", None, "Filename", "subject", "Onset Frame"], ["Subject", "Filename"]]
    assert S.find_header(rows, ["Subject", "Onset Frame"], "x.xlsx") == (
        2, {"subject": 0, "filename": 2, "onsetframe": 4})
    with pytest.raises(D.DatasetError, match=r"^x.xlsx: no header row with the columns Subject, Apex Frame was found$"):
        S.find_header(rows, ["Subject", "Apex Frame"], "x.xlsx")


def test_find_file_skips_lock_and_hidden_files_and_names_the_folders_searched(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for name in ("~$CASME2-coding.xlsx", ".CASME2-coding.xlsx", "~$code_final.xlsx", ".code_final.xlsx"):
        (a / name).write_text("")
    # an Office lock file (~$...) and a hidden file match a leading * but are never the annotation
    with pytest.raises(D.DatasetError, match=r"^no code_final file \(\*code_final\*.xlsx\) found in "):
        S.find_file([a], ["*code_final*.xlsx"], "code_final file")
    (b / "CASME2-coding-2.csv").write_text("")
    (b / "CASME2-coding-1.xlsx").write_text("")
    (b / "CASME2-coding-0.csv").write_text("")
    patterns = ["CASME2-coding*.xlsx", "CASME2-coding*.csv"]
    # the first pattern that matches wins, then the first name in order
    assert S.find_file([tmp_path / "none", a, b], patterns, "coding file") == b / "CASME2-coding-1.xlsx"
    with pytest.raises(D.DatasetError) as err:
        S.find_file([tmp_path / "none", a], patterns, "CASME II coding file")
    assert str(err.value) == (f"no CASME II coding file (CASME2-coding*.xlsx or CASME2-coding*.csv) found in {a}; "
                              "pass the annotation file explicitly")
    with pytest.raises(D.DatasetError, match=r"found in the given folders; pass the annotation file explicitly$"):
        S.find_file([tmp_path / "none"], ["SAMM*.xlsx"], "SAMM coding file")


# ------------------------------------------------------------------------------------------------ the shared row loop

def test_read_rows_pads_skips_and_passes_where():
    seen = []

    def make(where, cells):
        seen.append((where, cells))
        return None if cells[0] is None else D.Sample("x", "x/s", str(where), "p", (), None, None, None, None, "l")

    rows = [["h1", "h2", "h3"], [None], ["a", "b"], ["c", "d", "e", "f"]]
    samples = R.read_rows(R.numbered(rows, 1), make, width=3)
    assert seen == [(2, [None, None, None]), (3, ["a", "b", None]), (4, ["c", "d", "e", "f"])]
    assert [s.clip for s in samples] == ["3", "4"]
    seen.clear()
    R.read_rows([("line 9", ("",))], make, width=2, fill="")
    assert seen == [("line 9", ["", ""])]
    assert list(R.numbered([["a"], ["b"]])) == [(1, ["a"]), (2, ["b"])]


def test_frame_numbers_and_coded_rows():
    cells = ["006", "006_1_2", 0, "/", 12.0, None, "Anger", "4+7"]
    columns = {"onset": 2, "apex": 3, "offset": 4}
    assert R.frame_numbers(cells, columns) == {"onset": 0, "apex": None, "offset": 12}
    assert R.frame_numbers(cells, columns, zero_is_uncoded=True) == {"onset": None, "apex": None, "offset": 12}
    assert R.frame_numbers([-1, 1], {"onset": 0, "apex": 1}, zero_is_uncoded=True) == {
        "onset": None, "apex": 1, "offset": None}
    cols = {"subject": 0, "filename": 1, "onsetframe": 2, "apexframe": 3, "offsetframe": 4, "actionunits": 7}
    assert R.coded_row(cells, cols, 6, subject="sub{:02d}") == (
        "sub06", "006_1_2", {"onset": 0, "apex": None, "offset": 12}, "Anger", "4+7")
    assert R.coded_row(["s-x", "c", 3, 4, 5, None, " joy ", ""], cols, 6, subject="{:03d}")[0] == "s-x"
    del cols["actionunits"]
    assert R.coded_row([7, "c", 3, 4, 5, None, "joy", "12"], cols, 6, subject="{:03d}", zero_is_uncoded=True) == (
        "007", "c", {"onset": 3, "apex": 4, "offset": 5}, "joy", "")
    assert R.coded_row([None, None, 1, 2, 3, None, "x"], cols, 6, subject="{:03d}") is None
    assert R.coded_row([None, "clip", 1, 2, 3, None, "x"], cols, 6, subject="{:03d}")[0] == ""


def test_subdirs_are_in_natural_order_without_files_or_hidden_folders(tmp_path):
    for name in ("sub10", "sub2", ".git", "sub1"):
        (tmp_path / name).mkdir()
    (tmp_path / "sub3").write_text("a file")
    assert [p.name for p in R.subdirs(tmp_path)] == ["sub1", "sub2", "sub10"]
    assert R.is_subject_root(tmp_path, r"sub\d+") and R.is_subject_root(tmp_path, r"SUB\d+")
    assert not R.is_subject_root(tmp_path / "sub10", r"sub\d+") and not R.is_subject_root(tmp_path / "sub3", r"sub\d+")
    (tmp_path / "sub10" / "sub10").mkdir()
    assert not R.is_subject_root(tmp_path / "sub10", r"sub\d")  # the whole name must match


FRAMES = [f"img{i}.jpg" for i in (10, 11, 13, 14, 15)]  # frame 12 is missing


@pytest.mark.parametrize("numbers, mode, expected", [
    ({"onset": 10, "apex": 13, "offset": 15}, "error", ((0, 2, 4), [], [], False)),
    ({"onset": 11, "apex": None, "offset": 15}, "error",
     ((1, 2, 4), ["apex not annotated; using the middle frame of onset..offset"], [], True)),
    ({"onset": 12, "apex": 13, "offset": 20}, "error",
     ((None, 2, None), [], ["onset frame 12 is missing from the clip folder",
                            "offset frame 20 lies outside the clip's frames (10..15)"], False)),
    ({"onset": 9, "apex": 13, "offset": 15}, "error",
     ((None, 2, 4), [], ["onset frame 9 lies outside the clip's frames (10..15)"], False)),
    ({"onset": None, "apex": 13, "offset": None}, "error",
     ((None, 2, None), [], ["the onset frame is not annotated", "the offset frame is not annotated"], False)),
    ({"onset": 10, "apex": 11, "offset": None}, "last",
     ((0, 1, 4), ["offset not annotated; using the clip's last frame"], [], False)),
    ({"onset": 10, "apex": 11, "offset": None}, "mirror",
     ((0, 1, 2), ["offset not annotated; estimated as apex + (apex - onset)"], [], False)),
    ({"onset": 10, "apex": 14, "offset": None}, "mirror",  # 3 + 3 = 6, cut at the last frame
     ((0, 3, 4), ["offset not annotated; estimated as apex + (apex - onset)"], [], False)),
    ({"onset": 10, "apex": None, "offset": None}, "mirror",
     ((0, None, None), [], ["the offset frame is not annotated"], True)),
    ({"onset": 10, "apex": None, "offset": None}, "last",
     ((0, 2, 4), ["offset not annotated; using the clip's last frame",
                  "apex not annotated; using the middle frame of onset..offset"], [], True)),
])
def test_index_frames_maps_frame_numbers_to_indices(numbers, mode, expected):
    out, notes, issues, estimated = R.index_frames(FRAMES, numbers, missing_offset=mode)
    assert ((out["onset"], out["apex"], out["offset"]), notes, issues, estimated) == expected


def test_index_frames_edge_cases():
    empty = ({"onset": None, "apex": None, "offset": None}, [], [])
    assert R.index_frames([], {"onset": 1, "apex": 2, "offset": 3}) == (*empty, False)
    assert R.index_frames([], {"onset": 1}) == (*empty, True)
    # a repeated number maps to its first frame; unnumbered names are left out of the numbering
    out, _, issues, _ = R.index_frames(["a1.jpg", "b1.jpg", "x.jpg", "a2.jpg"], {"onset": 1, "apex": 2, "offset": 2})
    assert (out, issues) == ({"onset": 0, "apex": 3, "offset": 3}, [])
    _, _, issues, _ = R.index_frames(["a.jpg", "b.jpg"], {"onset": 1, "apex": 1, "offset": 2})
    assert issues == ["onset frame 1 lies outside the clip's frames (None..None)", "apex frame 1 lies outside the "
                      "clip's frames (None..None)", "offset frame 2 lies outside the clip's frames (None..None)"]


def test_folder_sample_missing_and_empty_folders(tmp_path):
    numbers = {"onset": 1, "apex": 2, "offset": 3}
    gone = R.folder_sample("casme2", "sub01", "EP1", tmp_path / "gone", numbers, "happyiness", "12", "f.xlsx row 2")
    assert (gone.frames, gone.onset, gone.apex, gone.offset, gone.fps) == ((), None, None, None, 200.0)
    assert gone.issues == (f"the clip folder {tmp_path / 'gone'} does not exist",)
    assert gone.label == "happiness" and gone.notes == ("label 'happyiness' read as 'happiness'",)
    assert (gone.subject, gone.clip, gone.path, gone.aus, gone.source, gone.extra, gone.apex_estimated) == (
        "casme2/sub01", "EP1", str(tmp_path / "gone"), "12", "f.xlsx row 2", {}, False)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("")
    empty = R.folder_sample("mine", "a", "c", tmp_path / "empty", {"onset": 1}, "x", "", "s", extra={"k": "v"})
    assert empty.issues == (f"the clip folder {tmp_path / 'empty'} holds no image frames",)
    assert (empty.fps, empty.extra, empty.apex_estimated) == (None, {"k": "v"}, True)
    assert R.DATASET_FPS == {"casme2": 200.0, "samm": 200.0, "smic": 100.0, "casme_sq": 30.0}


# ------------------------------------------------------------------------------------------------ Sample and validate

def frame_sample(folder, names=("img1.jpg", "img2.jpg", "img3.jpg", "img4.jpg"), **fields):
    """A sample over frames written to `folder` (ids x/s/c); `fields` override the defaults."""
    write_frames(folder, list(names), seed=7)
    base = D.Sample("x", "x/s", "c", str(folder), tuple(str(folder / n) for n in names), 25.0, 1, 2, 3, "neg",
                    source="m.csv line 2")
    return replace(base, **fields)


def test_sample_id_and_read_window_of_frames(tmp_path):
    s = frame_sample(tmp_path / "c")
    assert s.id == "x/s/c" and not s.is_video and replace(s, frames=()).is_video
    frames, onset, apex, offset = s.read_window()
    expected = np.stack([cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB) for f in s.frames[1:4]])
    assert np.array_equal(frames, expected) and (onset, apex, offset) == (0, 1, 2)
    whole = replace(s, onset=None, apex=None, offset=None).read_window()
    assert whole[0].shape == (4, 16, 16, 3) and whole[1:] == (0, None, 3)
    with pytest.raises(ClipError, match="^x/s/c has 3 frames, above the limit of 2"):
        s.read_window(ClipLimits(max_frames=2))
    for onset, offset in ((0, 4), (2, 2), (-1, 2)):
        with pytest.raises(D.DatasetError) as err:
            replace(s, onset=onset, offset=offset).read_window()
        assert str(err.value) == (f"x/s/c: the window onset={onset}..offset={offset} is not inside the clip (4 frames); "
                                  "run validate() on the dataset")


def test_read_window_of_a_video(tmp_path):
    from dataset_fixtures import class_clip
    from learnet.video import write_video

    write_video(tmp_path / "v.avi", class_clip(0, 10, 32, seed=1), 25.0)
    s = D.Sample("x", "x/s", "v", str(tmp_path / "v.avi"), (), None, 3, None, None, "neg")
    assert D.count_video_frames(s.path) == 10 and D.count_video_frames(tmp_path / "none.avi") == 0
    frames, onset, apex, offset = s.read_window(ClipLimits(max_frames=2))  # the limit is raised to the window
    assert frames.shape == (7, 32, 32, 3) and (onset, apex, offset) == (0, None, 6)
    assert s.read_window(ClipLimits(max_long_side=16))[0].shape == (7, 16, 16, 3)
    with pytest.raises(D.DatasetError) as err:
        replace(s, offset=10).read_window()  # one past the last frame (9)
    assert str(err.value) == f"x/s/v: the video {s.path} ends before the annotated offset 10"
    with pytest.raises(D.DatasetError, match=r"the window onset=5..offset=2 is not inside the clip \(\? frames\)"):
        replace(s, onset=5, offset=2).read_window()


def test_validate_each_window_check(tmp_path):
    s = frame_sample(tmp_path / "c")
    ok = [s, replace(s, clip="d", offset=None), replace(s, clip="e", onset=None, apex=0, fps=None)]
    assert D.validate(ok) == []
    bad = [
        replace(s, clip="a", onset=-1, apex=0),
        replace(s, clip="b", onset=3, apex=3),
        replace(s, clip="c2", fps=0.0, source=""),
        replace(s, clip="d", apex=None, offset=4),
        replace(s, clip="e", onset=2, apex=1, offset=None, issues=("reader said so",)),
        replace(s, clip="f", onset=2, apex=None, offset=1),
    ]
    assert [str(p) for p in D.validate(bad)] == [
        "m.csv line 2: x/s/a: onset -1 is negative",
        "m.csv line 2: x/s/b: onset 3 is not before offset 3",
        f"{tmp_path / 'c'}: x/s/c2: fps must be positive, got 0.0",
        "m.csv line 2: x/s/d: offset 4 lies outside the clip (4 frames, last index 3)",
        "m.csv line 2: x/s/e: reader said so",
        "m.csv line 2: x/s/f: onset 2 is not before offset 1",
    ]
    p = D.validate([replace(s, apex=0)])[0]
    assert (p.sample, p.where, p.message) == ("x/s/c", "m.csv line 2", "apex 0 lies outside onset..offset (1..3)")
    assert str(D.validate([replace(s, apex=4, offset=None)])[0]).endswith("apex 4 lies outside onset..offset (1..3)")


def test_validate_files_gaps_and_videos(tmp_path):
    names = [f"img{i}.jpg" for i in (1, 2, 4, 5, 9, 12, 20, 30)]
    s = frame_sample(tmp_path / "c", names, offset=7)
    assert [p.message for p in D.validate([s])] == [
        "22 frame(s) missing from the numbering (3, 6-8, 10-11, ...)"]
    three = frame_sample(tmp_path / "t", [f"img{i}.jpg" for i in (1, 3, 4, 7, 9)])
    assert [p.message for p in D.validate([three])] == ["4 frame(s) missing from the numbering (2, 5-6, 8)"]
    unnumbered = frame_sample(tmp_path / "u", ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    assert D.validate([unnumbered]) == []
    os.remove(s.frames[2])
    os.remove(s.frames[5])
    assert [p.message for p in D.validate([s])] == [
        "2 frame file(s) missing, e.g. img4.jpg", "22 frame(s) missing from the numbering (3, 6-8, 10-11, ...)"]
    assert D.validate([s], check_files=False) == []
    (tmp_path / "bad.avi").write_bytes(b"not a video")
    video = D.Sample("x", "x/s", "v", str(tmp_path / "bad.avi"), (), 25.0, None, None, None, "neg", source="m")
    assert [str(p) for p in D.validate([video])] == ["m: x/s/v: the video bad.avi cannot be opened"]
    assert D.validate([video], check_files=False) == []
    dup = [s, replace(s, source="m.csv line 9"), replace(s, source="m.csv line 10")]
    assert [p.message for p in D.validate(dup, check_files=False)] == [
        "duplicate sample id (also at m.csv line 2)", "duplicate sample id (also at m.csv line 2)"]


def test_summarize_lines(tmp_path):
    s = frame_sample(tmp_path / "c", label="negative")
    samples = [s, replace(s, clip="d", subject="x/t", label="positive", apex_estimated=True),
               replace(s, dataset="y", subject="y/s", clip="e", apex_estimated=True)]
    assert D.summarize(samples) == ("3 samples, 3 subjects\ndatasets: x 2, y 1\nclasses: negative 2, positive 1\n"
                                    "apex not annotated for 2 samples: the middle frame is used")
    smic = D.LABEL_MAPS["smic_3c"]
    kept = [replace(x, label=x.label.upper()[:3], target=x.label) for x in samples[:2]]  # counted by target
    assert D.summarize(kept, smic) == ("2 samples, 2 subjects\ndatasets: x 2\nclasses: negative 1, positive 1, "
                                       "surprise 0\napex not annotated for 1 samples: the middle frame is used\n"
                                       "note: label map smic_3c gives 164 samples on the complete datasets; 2 here")
    custom = D.LabelMap("c", ("negative",), {"*": {"negative": "negative"}})
    assert D.summarize(kept[:1], custom) == "1 samples, 1 subjects\ndatasets: x 1\nclasses: negative 1"
    assert D.summarize(kept[:1], replace(custom, expected=1)) == D.summarize(kept[:1], custom)


# ------------------------------------------------------------------------------------------------ label maps

MEGC_CASME2 = {"happiness": "positive", "disgust": "negative", "repression": "negative", "surprise": "surprise",
               "others": None, "fear": None, "sadness": None}
MEGC_SAMM = {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise", "other": None}
MEGC_SMIC = {"negative": "negative", "positive": "positive", "surprise": "surprise"}
THREE = ("negative", "positive", "surprise")


@pytest.mark.parametrize("name, classes, rules", [
    ("casme2_5c", ("happiness", "surprise", "disgust", "repression", "others"),
     {"casme2": {"happiness": "happiness", "surprise": "surprise", "disgust": "disgust", "repression": "repression",
                 "others": "others", "fear": None, "sadness": None}}),
    ("casme2_3c_all", THREE, {"casme2": MEGC_CASME2}),
    ("megc2019_3c", THREE, {"casme2": MEGC_CASME2, "samm": MEGC_SAMM, "smic": MEGC_SMIC}),
    ("samm_5c", ("anger", "contempt", "happiness", "surprise", "other"),
     {"samm": {"anger": "anger", "contempt": "contempt", "happiness": "happiness", "surprise": "surprise",
               "other": "other", "disgust": None, "fear": None, "sadness": None}}),
    ("samm_3c", THREE, {"samm": MEGC_SAMM}),
    ("smic_3c", THREE, {"smic": MEGC_SMIC}),
    ("casme_sq_4c", ("negative", "positive", "surprise", "others"),
     {"casme_sq": {"negative": "negative", "disgust": "negative", "anger": "negative", "sadness": "negative",
                   "fear": "negative", "contempt": "negative", "positive": "positive", "happiness": "positive",
                   "surprise": "surprise", "others": "others", "other": "others"}}),
])
def test_label_maps_exact_rules(name, classes, rules):
    m = D.LABEL_MAPS[name]
    assert m.name == name and m.classes == classes
    # every map also maps its own class names onto themselves (manifests that already use them)
    assert {d: dict(t) for d, t in m.rules.items()} == {**rules, "*": {c: c for c in classes}}
    assert m.exclude == (D.MEGC2019_EXCLUDED if name == "megc2019_3c" else frozenset())


def test_label_map_registry_defaults_and_spelling():
    assert list(D.LABEL_MAPS) == ["casme2_5c", "casme2_3c_all", "megc2019_3c", "samm_5c", "samm_3c", "smic_3c",
                                  "casme_sq_4c"]
    assert D.MEGC2019_EXCLUDED == {"casme2/sub04/EP12_01f", "casme2/sub05/EP12_03f", "casme2/sub24/EP02_07"}
    assert D.DEFAULT_LABEL_MAPS == {
        frozenset({"casme2"}): "casme2_5c", frozenset({"samm"}): "samm_5c", frozenset({"smic"}): "smic_3c",
        frozenset({"casme_sq"}): "casme_sq_4c", frozenset({"casme2", "samm", "smic"}): "megc2019_3c"}
    assert D.LABEL_MAPS["megc2019_3c"].description == (
        "MEGC2019 composite, 442 samples (CASME II 145, SAMM 133, SMIC-HS 164): negative 250, positive 109, "
        "surprise 83")
    assert L.fix_label("Happyiness") == ("happiness", ("label 'Happyiness' read as 'happiness'",))
    assert L.fix_label("Happiness") == ("Happiness", ()) and D.LABEL_SPELLING == {"happyiness": "happiness"}


def test_label_map_lookup_and_apply():
    m = D.LabelMap("m", ("neg", "pos"), {"samm": {"anger": "neg", "other": None}, "*": {"anger": "pos", "joy": "pos"}},
                   exclude=frozenset({"samm/006/c9"}))
    sample = D.Sample("samm", "samm/006", "c1", "p", (), None, None, None, None, " Anger ")
    assert m.lookup(sample) == ("class", "neg")  # the dataset's own table comes first
    assert m.lookup(replace(sample, dataset="smic")) == ("class", "pos")
    assert m.lookup(replace(sample, label="JOY")) == ("class", "pos")
    assert m.lookup(replace(sample, label="other")) == ("excluded", None)
    assert m.lookup(replace(sample, clip="c9")) == ("excluded", None)
    assert m.lookup(replace(sample, label="fear")) == ("unknown", None)
    kept = m.apply([sample, replace(sample, clip="c9"), replace(sample, label="other")])
    assert [(s.clip, s.target) for s in kept] == [("c1", "neg")]
    unknown = [replace(sample, label="fear"), replace(sample, label="fear"), replace(sample, dataset="a", label="zz")]
    with pytest.raises(D.DatasetError) as err:
        m.apply(unknown + [sample])
    assert str(err.value) == "label map m does not know the label(s) a:'zz' (1), samm:'fear' (2)"


def test_label_map_dict_round_trip_and_file_forms():
    m = D.LabelMap("m", ("neg", "pos"), {"*": {"a": "neg"}}, frozenset({"z/y", "b/c"}), 7, "mine")
    assert m.to_dict() == {"name": "m", "classes": ["neg", "pos"], "rules": {"*": {"a": "neg"}},
                           "exclude": ["b/c", "z/y"], "expected": 7, "description": "mine"}
    assert D.LabelMap.from_dict(m.to_dict()) == m
    short = D.LabelMap.from_dict({"classes": ["neg", "pos"], "map": {"Anger": "neg", "Joy": None}})
    assert (short.name, short.rules, short.exclude, short.expected, short.description) == (
        "custom", {"*": {"anger": "neg", "joy": None}}, frozenset(), None, "")
    assert D.LabelMap.from_dict({"classes": ["a", "b"]}).rules == {"*": {"a": "a", "b": "b"}}
    for data in ({}, {"classes": []}):
        with pytest.raises(D.DatasetError, match=r"^a label map needs a non-empty 'classes' list$"):
            D.LabelMap.from_dict(data)
    with pytest.raises(D.DatasetError, match=r"^label map \?: angry, zz not among its classes$"):
        D.LabelMap.from_dict({"classes": ["neg"], "map": {"x": "zz", "y": "angry", "w": "angry", "v": None}})
    with pytest.raises(D.DatasetError, match=r"^label map mine: zz not among its classes$"):
        D.LabelMap.from_dict({"name": "mine", "classes": ["neg"], "rules": {"samm": {"x": "zz"}}})
    assert L._with_identity({"samm": {"x": None}}, ("a", "b")) == {"samm": {"x": None}, "*": {"a": "a", "b": "b"}}


def test_identity_and_get_label_map_forms(tmp_path):
    sample = D.Sample("mine", "mine/a", "c", "p", (), None, None, None, None, " Pos ")
    samples = [sample, replace(sample, label="neg"), replace(sample, label="POS")]
    identity = D.identity_label_map(samples, name="ident")
    assert (identity.name, identity.classes, dict(identity.rules["*"])) == ("ident", ("neg", "pos"),
                                                                           {"neg": "neg", "pos": "pos"})
    assert identity.description == "each label is its own class" and D.identity_label_map(samples).name == "identity"
    with pytest.raises(D.DatasetError, match="^no samples, so no classes$"):
        D.identity_label_map([])
    assert D.get_label_map("identity", samples).classes == ("neg", "pos")
    assert D.get_label_map("auto", samples).name == "identity"
    assert D.get_label_map("auto", [replace(sample, dataset="smic")]) is D.LABEL_MAPS["smic_3c"]
    assert D.get_label_map("samm_3c") is D.LABEL_MAPS["samm_3c"] and D.get_label_map(identity) is identity
    (tmp_path / "Mine.JSON").write_text(json.dumps({"classes": ["pos"], "description": "d"}))
    loaded = D.get_label_map(tmp_path / "Mine.JSON")
    assert (loaded.name, loaded.classes, loaded.description) == ("Mine", ("pos",), "d")
    (tmp_path / "named.json").write_text(json.dumps({"name": "inner", "classes": ["pos"]}))
    assert D.get_label_map(str(tmp_path / "named.json")).name == "inner"
    with pytest.raises(D.DatasetError) as err:
        D.get_label_map(tmp_path / "gone.json")
    assert str(err.value) == f"the label map file {tmp_path / 'gone.json'} does not exist"
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(D.DatasetError, match=r"/broken.json is not valid JSON: Expecting property name"):
        D.get_label_map(tmp_path / "broken.json")
    with pytest.raises(D.DatasetError) as err:
        D.get_label_map("nope.txt")
    assert str(err.value) == ("unknown label map 'nope.txt'; choose one of casme2_5c, casme2_3c_all, megc2019_3c, "
                              "samm_5c, samm_3c, smic_3c, casme_sq_4c, identity, auto, or a .json file")


# ------------------------------------------------------------------------------------------------ manifest details

def test_manifest_cells_paths_and_issues(tmp_path, monkeypatch):
    write_frames(tmp_path / "clips" / "a", ["f1.png", "f2.png", "f3.png"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "v.mp4").write_bytes(b"")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "m.csv").write_text(
        " Label ,Dataset,subject,path,clip,fps,onset,apex,offset,aus,Mask,subject\n"
        "Happyiness,mine,mine/p1,clips/a,, 30 , 0 ,,2,\"6, 12\",m1.png,ignored\n"
        ",,,,,,,,,,,\n"
        f"neg,mine,p2,{tmp_path / 'empty'},e,,,,,,,\n"
        "neg,mine,p2,notes.txt,t,,,,,,,\n"
        "neg,mine,p2,~/v.mp4,v,,1,,,,,\n"
        "neg,mine,p2,~/gone,g,,,,,,\n", encoding="utf-8")
    first, empty, text, video, gone = D.read_manifest(tmp_path / "m.csv")
    assert (first.id, first.clip, first.path, first.fps, first.onset, first.apex, first.offset) == (
        "mine/p1/a", "a", str(tmp_path / "clips" / "a"), 30.0, 0, 1, 2)
    assert (first.label, first.aus, first.extra, first.apex_estimated) == ("happiness", "6+12", {"mask": "m1.png"}, True)
    assert first.notes == ("label 'Happyiness' read as 'happiness'",
                           "apex not annotated; using the middle frame of onset..offset")
    assert len(first.frames) == 3 and first.issues == () and first.source == f"{tmp_path / 'm.csv'} line 2"
    assert empty.issues == (f"the clip folder {tmp_path / 'empty'} holds no image frames",)
    assert empty.source.endswith("m.csv line 4") and (empty.fps, empty.onset, empty.apex) == (None, None, None)
    assert (empty.id, empty.frames, text.frames, video.frames) == ("mine/p2/e", (), (), ())
    assert text.issues == ("notes.txt is neither a folder of frames nor a video",)
    assert (video.path, video.issues, video.apex, video.apex_estimated) == (str(tmp_path / "v.mp4"), (), None, True)
    assert video.notes == () and gone.issues == (f"the clip {tmp_path / 'gone'} does not exist",)


def test_manifest_index_cells():
    assert M._manifest_index(" 3 ", "onset", "w") == 3 and M._manifest_index("  ", "onset", "w") is None
    assert M._manifest_index("4.0", "apex", "w") == 4
    with pytest.raises(D.DatasetError) as err:
        M._manifest_index(" 2.5 ", "apex", "m.csv line 3")
    assert str(err.value) == "m.csv line 3: apex must be a whole frame index (0-based) or empty, got '2.5'"


def test_manifest_header_errors_are_exact(tmp_path):
    (tmp_path / "m.csv").write_text("dataset,clip,label\n")
    with pytest.raises(D.DatasetError) as err:
        D.read_manifest(tmp_path / "m.csv")
    assert str(err.value) == ("the manifest m.csv lacks the column(s) subject, path; its header must be "
                              "dataset,subject,clip,path,fps,onset,apex,offset,label,aus")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(D.DatasetError) as err:
        D.read_manifest(tmp_path / "e.csv")
    assert str(err.value) == (f"the manifest {tmp_path / 'e.csv'} is empty (it needs a header row: "
                              "dataset,subject,clip,path,fps,onset,apex,offset,label,aus)")
    with pytest.raises(D.DatasetError, match=r"^the manifest .*/none.csv does not exist$"):
        D.read_manifest(tmp_path / "none.csv")
    for row in ("x,a,c,,neg", ",a,c,p,neg", "x,,c,p,neg"):
        (tmp_path / "r.csv").write_text("dataset,subject,clip,path,label\n" + row + "\n")
        with pytest.raises(D.DatasetError, match=r"r.csv line 2: dataset, subject and path must not be empty$"):
            D.read_manifest(tmp_path / "r.csv")


def test_write_manifest_paths_subjects_and_extras(tmp_path):
    outside = tmp_path / "elsewhere" / "clip"
    a = D.Sample("mine", "mine/p1", "c1", str(tmp_path / "out" / "clips" / "c1"), (), 25.0, 1, 3, 5, "neg",
                 aus="6+12", apex_estimated=True, extra={"mask": "m.png"})
    b = D.Sample("mine", "p2", "c2", str(outside), (), None, None, 2, None, "pos", extra={"fold": "1", "mask": ""})
    path = D.write_manifest([a, b], tmp_path / "out" / "sub" / ".." / "m.csv")
    assert path == tmp_path / "out" / "sub" / ".." / "m.csv"
    assert (tmp_path / "out" / "m.csv").read_text().splitlines() == [
        "dataset,subject,clip,path,fps,onset,apex,offset,label,aus,mask,fold",
        "mine,p1,c1,clips/c1,25.0,1,,5,neg,6+12,m.png,",
        f"mine,p2,c2,{outside},,,2,,pos,,,1",
    ]


# ------------------------------------------------------------------------------------------------ reader edges

def test_casme2_folder_errors_emotion_column_and_explicit_annotation(tmp_path):
    with pytest.raises(D.DatasetError, match=r"^the CASME II folder .*/none does not exist$"):
        D.read_casme2(tmp_path / "none")
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    with pytest.raises(D.DatasetError) as err:
        D.read_casme2(tmp_path / "empty")
    assert str(err.value) == (f"{tmp_path / 'empty'} holds no subXX folders (nor a CASME2_RAW_selected or Cropped "
                              "folder with them)")
    root = make_casme2(tmp_path / "C2")
    frames_root = root / "CASME2_RAW_selected"
    assert D.casme2_frames_root(root) == frames_root and D.casme2_frames_root(frames_root) == frames_root
    # the coding sheet two levels up from the subXX folders' parent, and an "Emotion" column
    sheet = tmp_path / "CASME2-coding-old.xlsx"
    rows = D.read_table(root / "CASME2-coding-20140508.xlsx")
    rows[0][8] = "Emotion"
    save_xlsx(sheet, {"Sheet1": [list(r) for r in rows]})
    os.remove(root / "CASME2-coding-20140508.xlsx")
    samples = D.read_casme2(frames_root)  # the sheet is looked for up to two folders above the root
    assert samples[0].label == "happiness" and samples[0].source == "CASME2-coding-old.xlsx row 2"
    rows[0][8] = "Feeling"
    save_xlsx(tmp_path / "x.xlsx", {"Sheet1": [list(r) for r in rows]})
    with pytest.raises(D.DatasetError, match=r"^x.xlsx: no 'Estimated Emotion' column$"):
        D.read_casme2(root, tmp_path / "x.xlsx")
    assert [s.id for s in D.read_casme2(root, sheet)] == [s.id for s in samples]


def test_samm_folder_error_emotion_column_and_subject_text(tmp_path):
    with pytest.raises(D.DatasetError, match=r"^the SAMM folder .*/none does not exist$"):
        D.read_samm(tmp_path / "none")
    root = make_samm(tmp_path / "SAMM")
    rows = D.read_table(root / "SAMM_Micro_FACS_Codes_v2.xlsx")
    rows[4][0] = "S06"  # a subject that is not a number is kept as written
    rows[3][10] = "Emotion"
    save_xlsx(tmp_path / "codes.xlsx", {"s": [list(r) for r in rows]})
    with pytest.raises(D.DatasetError, match=r"^codes.xlsx: no 'Estimated Emotion' column$"):
        D.read_samm(root, tmp_path / "codes.xlsx")
    rows[3][10] = "Estimated Emotion"
    rows[3].pop()  # no Objective Classes column
    save_xlsx(tmp_path / "codes.xlsx", {"s": [list(r) for r in rows]})
    first = D.read_samm(root, tmp_path / "codes.xlsx")[0]
    assert (first.subject, first.extra, first.issues) == (
        "samm/S06", {}, (f"the clip folder {root / 'S06' / '006_1_2'} does not exist",))
    # a CSV row may stop before the last columns: they read as empty
    with open(tmp_path / "codes.csv", "w", newline="") as f:
        csv.writer(f).writerows([["Subject", "Filename", "Onset Frame", "Offset Frame", "Estimated Emotion",
                                  "Objective Classes"], ["6", "006_1_2", "5561", "5566", "Anger"]])
    [short] = D.read_samm(root, tmp_path / "codes.csv")
    assert (short.id, short.onset, short.offset, short.extra) == ("samm/006/006_1_2", 1, 6, {"objective_class": ""})


def test_smic_errors_modalities_and_short_clips(tmp_path):
    with pytest.raises(D.DatasetError, match=r"^the SMIC folder .*/none does not exist$"):
        D.read_smic(tmp_path / "none")
    root = make_smic(tmp_path / "SMIC")
    with pytest.raises(D.DatasetError) as err:
        D.read_smic(root, "NIR")
    assert str(err.value) == f"{root} holds no sNN subject folders (expected SMIC's NIR/s1/micro/...)"
    write_frames(root / "VIS" / "s3" / "micro" / "positive" / "s3_po_01", ["image1.bmp"])
    write_frames(root / "VIS" / "s2" / "nonmicro" / "x" / "y", ["image1.bmp", "image2.bmp"])  # before s3: skipped
    write_frames(root / "VIS" / "notes" / "micro" / "positive" / "z", ["image1.bmp", "image2.bmp"])
    write_frames(root / "VIS" / "S5" / "micro" / "surprise" / "S5_sur", ["image7.bmp", "image8.bmp"])
    short, upper = D.read_smic(root, "VIS")
    assert (upper.id, upper.label, upper.issues) == ("smic/S5/S5_sur", "surprise", ())
    clip = root / "VIS" / "s3" / "micro" / "positive" / "s3_po_01"
    assert (short.id, short.fps, short.label, short.source) == (
        "smic/s3/s3_po_01", 25.0, "positive", "folder s3/micro/positive/s3_po_01")
    assert (short.onset, short.apex, short.offset, short.apex_estimated) == (None, None, None, True)
    assert short.issues == (f"the clip folder {clip} holds 1 frames (needs 2 or more)",)
    assert short.notes == ("SMIC has no apex annotation; using the middle frame",) and short.path == str(clip)
    write_frames(clip, ["image2.bmp"])
    two = D.read_smic(root / "VIS", "vis")[0]
    assert (two.onset, two.apex, two.offset, two.issues, two.fps) == (0, 0, 1, (), 25.0)
    assert two.frames == (str(clip / "image1.bmp"), str(clip / "image2.bmp")) and short.frames == (two.frames[0],)
    # a folder that holds sNN folders is read as it is, even beside a folder named as the modality
    write_frames(root / "VIS" / "VIS" / "s9" / "micro" / "positive" / "c", ["image1.bmp", "image2.bmp"])
    assert [s.subject for s in D.read_smic(root / "VIS", "VIS")] == ["smic/s3", "smic/S5"]
    assert D.read_smic(root / "HS", "hs")[0].fps == 100.0


def test_casme_sq_folders_header_rows_and_fallback_names(tmp_path):
    with pytest.raises(D.DatasetError, match=r"^the CAS\(ME\)\^2 folder .*/none does not exist$"):
        D.read_casme_sq(tmp_path / "none")
    root = tmp_path / "sq"
    write_frames(root / "s3" / "03_0502clip", [f"img{i}.jpg" for i in range(1, 11)])
    write_frames(root / "s07" / "anger2_1", [f"img{i}.jpg" for i in range(1, 11)])
    write_frames(root / "s07" / "07_ANGER2_9", [f"img{i}.jpg" for i in range(1, 11)])
    save_xlsx(root / "code_final.xlsx", {
        "Sheet1": [["participant", "video", "onset"], [3, "happy2_1", 2, 4, 6, "12", "happiness", "Micro"],
                   [7, "anger2_1", 1, 3, 5, None, "anger", "micro-expression"], [None],
                   [7, "anger2_9", 1, 3, 5, None, "anger", "micro-expression"], [7, "anger2_1", 1, 3, 5]],
        "naming rule1": [["Code", "Video"], ["0502", "Happy2"], ["0503"]],
    })
    happy, anger, nine = D.read_casme_sq(root)
    assert (happy.subject, Path(happy.path).name, happy.clip) == ("casme_sq/s3", "03_0502clip", "03_0502clip@2")
    assert (happy.onset, happy.apex, happy.offset, happy.fps, happy.aus) == (1, 3, 5, 30.0, "12")
    assert happy.source == "code_final.xlsx row 2" and happy.extra == {"video": "happy2_1", "type": "micro"}
    assert (anger.subject, anger.path, anger.issues) == ("casme_sq/s07", str(root / "s07" / "anger2_1"), ())
    assert anger.source == "code_final.xlsx row 3"
    assert (nine.path, nine.issues) == (str(root / "s07" / "07_ANGER2_9"), ())  # the one folder ending in the name
    assert len(D.read_casme_sq(root, include_macro=True)) == 4  # the short row has no type: not micro
    os.remove(root / "code_final.xlsx")
    with pytest.raises(D.DatasetError) as err:
        D.read_casme_sq(root)
    assert str(err.value) == (f"no CAS(ME)^2 code_final file (*code_final*.xlsx or *code_final*.csv) found in {root}, "
                              f"{tmp_path}; pass the annotation file explicitly")
    (tmp_path / "CAS(ME)^2code_final.csv").write_text("3,03_0502clip,2,4,6,12,happiness,micro\n")
    [by_name] = D.read_casme_sq(root)  # no naming rules in a CSV: the folder is named as the video
    assert (by_name.path, by_name.source) == (str(root / "s3" / "03_0502clip"), "CAS(ME)^2code_final.csv row 1")


def test_readers_name_the_annotation_file_they_looked_for(tmp_path):
    root = make_casme2(tmp_path / "C2")
    rows = D.read_table(root / "CASME2-coding-20140508.xlsx")
    os.remove(root / "CASME2-coding-20140508.xlsx")
    with pytest.raises(D.DatasetError) as err:
        D.read_casme2(root)
    assert str(err.value) == (
        f"no CASME II coding file (CASME2-coding*.xlsx or CASME2-coding*.csv) found in {root}, "
        f"{root / 'CASME2_RAW_selected'}, {tmp_path}, {tmp_path.parent}; pass the annotation file explicitly")
    with open(root / "CASME2-coding-x.csv", "w", newline="") as f:  # the same sheet saved as CSV
        csv.writer(f).writerows([["" if c is None else c for c in row] for row in rows[:-1]])  # less the blank row
    from_csv = D.read_casme2(root)
    assert len(from_csv) == 11 and from_csv[1].id == "casme2/sub01/EP03_02" and from_csv[1].apex_estimated
    samm = make_samm(tmp_path / "S" / "SAMM")
    os.remove(samm / "SAMM_Micro_FACS_Codes_v2.xlsx")
    with pytest.raises(D.DatasetError) as err:
        D.read_samm(samm)
    assert str(err.value) == (f"no SAMM coding file (SAMM*.xlsx or SAMM*.csv) found in {samm}, {samm.parent}; "
                              "pass the annotation file explicitly")


def test_casme2_csv_sheet_with_blank_lines_reads_like_the_xlsx(tmp_path):
    root = make_casme2(tmp_path / "C2")
    xlsx = root / "CASME2-coding-20140508.xlsx"
    rows = D.read_table(xlsx)
    sheet = tmp_path / "coding.csv"
    with open(sheet, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        for r in rows[1:]:
            w.writerow(["" if c is None else c for c in r])
            w.writerow([""] * len(r))  # a spreadsheet's blank line exported as ",,,,"
    from_csv, from_xlsx = D.read_casme2(root, sheet), D.read_casme2(root, xlsx)
    assert len(from_csv) == len(from_xlsx) == 11
    assert [s.id for s in from_csv] == [s.id for s in from_xlsx]
    assert [(s.onset, s.apex, s.offset, s.label) for s in from_csv] == [
        (s.onset, s.apex, s.offset, s.label) for s in from_xlsx]
