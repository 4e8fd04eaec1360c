import subprocess
import sys

from lab.cli import main


def test_couple_compare_prints_one_table_with_every_strategy(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_FAST", "1")
    assert main(["couple", "--data", "digits", "--compare", "--limit", "300", "--widths", "16,16"]) == 0
    out = capsys.readouterr().out
    for strategy in ["independent", "pipeline", "ensemble", "shared", "cross_stitch", "attention"]:
        assert f"\n{strategy} " in out
    for column in ["digit", "parity", "ge5", "loops", "mean", "params", "train_s"]:
        assert column in out
    assert "final W of cross_stitch" in out and "stage 2:" in out


def test_couple_on_synthetic_reports_recovery(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(["couple", "--data", "synthetic", "--structure", "star", "--epochs", "2", "--save"]) == 0
    out = capsys.readouterr().out
    assert "W* recovery (cross_stitch): AUC" in out and "saved cross_stitch run" in out


def test_bad_cli_input_gives_a_clear_error(capsys):
    assert main(["couple", "--w-init", "2,0.1"]) == 2
    assert "w_init" in capsys.readouterr().err


def test_python_dash_m_lab_runs():
    result = subprocess.run([sys.executable, "-m", "lab", "couple", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--compare" in result.stdout
