"""``python -m lab couple`` forwards every weighting's options (lab.cli.couple_checks.WEIGHTING_FLAGS)."""
import json

import pytest

from lab.cli import build_parser, main
from lab.cli.couple_checks import WEIGHTING_FLAGS, check_options, weighting_options
from lab.weighting import make_weighting

GOOD = {"--alpha": "2.0", "--gradnorm-lr": "0.05", "--temperature": "3.0", "--uncertainty-init": "0.5",
        "--pcgrad-seed": "3", "--rlw-seed": "5", "--famo-lr": "0.05", "--famo-gamma": "0.001",
        "--mgda-epsilon": "0.0001", "--cagrad-c": "0.8", "--cagrad-rescale": "2", "--nash-max-norm": "2.0",
        "--aligned-scale": "median", "--upgrad-reg-eps": "0.001"}


def test_every_flag_has_a_good_value_here():
    assert sorted(GOOD) == sorted(f.flag for f in WEIGHTING_FLAGS)


@pytest.mark.parametrize("flag", WEIGHTING_FLAGS, ids=[f.flag for f in WEIGHTING_FLAGS])
def test_flag_reaches_its_weighting(flag):
    args = build_parser().parse_args(["couple", "--weighting", flag.weighting, flag.flag, GOOD[flag.flag]])
    check_options(args, None)
    options = weighting_options(args, flag.weighting)
    assert options == {flag.option: flag.type(GOOD[flag.flag])}
    assert make_weighting(flag.weighting, **options).options[flag.option] == flag.type(GOOD[flag.flag])
    others = [w for w in {f.weighting for f in WEIGHTING_FLAGS} if w != flag.weighting]
    assert all(weighting_options(args, w) == {} for w in others)


@pytest.mark.parametrize("argv, word", [
    (["--weighting", "cagrad", "--cagrad-c", "nan"], "cagrad: c"),
    (["--weighting", "famo", "--famo-gamma", "-1"], "famo: gamma"),
    (["--weighting", "rlw", "--rlw-seed", "-1"], "rlw: seed"),
    (["--weighting", "mgda", "--mgda-epsilon", "0"], "mgda: epsilon"),
    (["--weighting", "equal", "--cagrad-c", "0.5"], "--cagrad-c sets cagrad's radius"),
])
def test_bad_values_exit_2_before_any_data_is_loaded(argv, word, capsys, monkeypatch):
    import lab.cli.couple as couple

    def no_data(args):
        raise AssertionError("data loaded before the options were checked")
    monkeypatch.setattr(couple, "data_from_args", no_data)
    assert main(["couple", *argv]) == 2
    err = capsys.readouterr().err
    assert word in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_sweep_trains_with_the_forwarded_options(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path))
    assert main(["couple", "--data", "digits", "--limit", "150", "--epochs", "1", "--widths", "8", "--strategy",
                 "shared", "--weightings", "cagrad,famo", "--cagrad-c", "0.8", "--famo-lr", "0.1", "--save"]) == 0
    histories = {}
    for path in tmp_path.rglob("history.json"):
        h = json.loads(path.read_text())
        histories[h["weighting"]] = h["weighting_options"]
    assert histories["cagrad"]["c"] == 0.8 and histories["famo"]["lr"] == 0.1
    assert histories["famo"]["gamma"] == 0.01                                     # not given: the default
