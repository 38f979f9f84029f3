"""Dataset readers, label maps, manifest round trip and validation on generated fictitious datasets."""
from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from dataset_fixtures import (
    CASME2_ROWS, SAMM_ROWS, make_casme2, make_casme_sq, make_manifest, make_samm, make_smic,
)
from learnet import datasets as D


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
    from dataclasses import replace

    with pytest.raises(D.DatasetError, match="the window onset=5..offset=2 is not inside the clip"):
        replace(s, onset=5, offset=2).read_window()


def test_frame_number():
    assert [D.frame_number(n) for n in ("img46.jpg", "reg_img7.jpg", "006_05562.jpg", "image586299.bmp", "x.png")] == [
        46, 7, 5562, 586299, None]
