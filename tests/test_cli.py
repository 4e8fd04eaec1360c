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


def test_couple_trains_a_gru_with_a_schedule_and_restores_the_best_epoch(capsys, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    assert main(["couple", "--data", "mnist1d", "--limit", "300", "--block", "gru", "--widths", "6",
                 "--epochs", "2", "--lr-schedule", "cosine", "--restore-best"]) == 0
    out = capsys.readouterr().out
    assert "block gru [6]" in out and "restored the best validation epoch: cross_stitch " in out


def test_couple_cnn_options_and_logistic_block(capsys, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    assert main(["couple", "--data", "mnist1d", "--limit", "300", "--block", "cnn", "--widths", "4",
                 "--kernel-size", "5", "--stride", "2", "--batch-norm", "--epochs", "1", "--strategy", "shared"]) == 0
    assert main(["couple", "--data", "mnist1d", "--limit", "300", "--block", "logistic", "--widths", "10",
                 "--epochs", "1", "--lr-schedule", "step", "--lr-step-epochs", "1", "--lr-gamma", "0.5"]) == 0
    assert "block logistic [10]" in capsys.readouterr().out


def test_bad_block_and_schedule_options_exit_2_with_one_line(capsys):
    for argv, word in [(["--block", "gru", "--kernel-size", "5"], "cnn blocks only"),
                       (["--lr-schedule", "cosine", "--lr-gamma", "0.5"], "lr_schedule 'step'"),
                       (["--block", "rnn"], "invalid choice"), (["--lr-schedule", "linear"], "invalid choice")]:
        assert main(["couple", "--data", "mnist1d", *argv]) == 2
        err = capsys.readouterr().err
        assert word in err and err.count("\n") == 1 and "Traceback" not in err


def test_couple_help_lists_the_new_options_with_defaults():
    result = subprocess.run([sys.executable, "-m", "lab", "couple", "--help"], capture_output=True, text=True)
    flat = " ".join(result.stdout.split())
    for text in ["{mlp,cnn,gru,logistic}", "--kernel-size KERNEL_SIZE cnn blocks: convolution kernel size (default: 3)",
                 "(default: none)", "--restore-best end with the weights of the epoch with the best validation metric "
                 "(default: off)", "--stride STRIDE cnn blocks: convolution stride (default: 1)"]:
        assert text in flat, text
