"""The training and report command lines never overwrite outputs silently, nor mix seeds in one run folder."""
from __future__ import annotations

import json

from learnet import report as R
from learnet import train as T
from test_train import HAND, _hand_run


def _report_cli(argv, capsys) -> tuple[int, str]:
    code = R.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_report_refreshes_its_own_run_but_keeps_other_reports(tmp_path, capsys):
    run = _hand_run(tmp_path / "run", HAND)
    assert _report_cli([run], capsys) == (0, "")
    first = (run / "report.json").read_text()
    assert _report_cli([run], capsys) == (0, "")  # the run's own report, refreshed
    assert (run / "report.json").read_text() == first
    other = _hand_run(tmp_path / "other", HAND)
    code, err = _report_cli([other, "--out", run], capsys)
    assert code == 2 and err == (f"error: {run} already holds a report (of {run}); pass --overwrite to replace it, "
                                 "or choose another --out\n")
    assert (run / "report.json").read_text() == first
    assert _report_cli([other, "--out", run, "--overwrite"], capsys) == (0, "")
    assert json.loads((run / "report.json").read_text())["sources"] == [str(other)]


def test_report_never_replaces_files_it_did_not_write(tmp_path, capsys):
    run = _hand_run(tmp_path / "run", HAND)
    out = tmp_path / "paper"
    out.mkdir()
    (out / "confusion.pdf").write_bytes(b"%PDF someone else's")
    for extra in ([], ["--overwrite"]):
        code, err = _report_cli([run, "--out", out, *extra], capsys)
        assert code == 2 and err == f"error: {out / 'confusion.pdf'} exists and is not a learnet report; choose another --out\n"
    assert (out / "confusion.pdf").read_bytes() == b"%PDF someone else's" and not (out / "report.json").exists()


def _seed0_run_with_model(tmp_path):
    run = _hand_run(tmp_path / "run", HAND)
    spec = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**spec, "seeds": [0]}))
    (run / "model").mkdir()
    (run / "model" / "model.safetensors").write_bytes(b"seed 0 weights")
    return run


def test_all_subjects_refuses_another_seed_and_an_existing_model(tmp_path, capsys):
    run = _seed0_run_with_model(tmp_path)
    manifest = tmp_path / "missing.csv"
    base = ["--manifest", manifest, "--out", run, "--all-subjects"]
    code = T.main([str(a) for a in base + ["--seed", "1", "--overwrite"]])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"error: {run} holds a run of seed 0; --all-subjects --seed 1 would mix seeds in one "
                                 "run folder: use --seed 0 or another --out\n")
    code = T.main([str(a) for a in base + ["--seed", "0"]])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"error: {run / 'model'} already holds a model; pass --overwrite to replace it, or "
                                 "use another --out\n")
    code = T.main([str(a) for a in base + ["--seeds", "0,1"]])
    assert code == 2 and capsys.readouterr().err == "error: --all-subjects trains one model; give one --seed, not 0,1\n"
    assert json.loads((run / "run.json").read_text())["seeds"] == [0]
    assert (run / "model" / "model.safetensors").read_bytes() == b"seed 0 weights"
    # With --overwrite and the run's seed the checks pass and the command goes on to read the data.
    code = T.main([str(a) for a in base + ["--seed", "0", "--overwrite"]])
    assert code == 2 and "missing.csv" in capsys.readouterr().err
