"""The CLI explains itself: every option's default in --help, the same defaults as the playground, and
progress lines while a long --compare trains."""
import argparse
import re
import subprocess
import sys

import pytest

from lab.cli import build_parser, main
from lab.cli.couple import configs_from_args, data_from_args
from lab.cli.help import help_text
from lab.ui import CouplingPlayground


def subcommands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", ["couple", "compress"])
def test_every_option_says_what_it_does_and_its_default(command):
    parser = subcommands()[command]
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert len(options) > 10
    for action in options:
        text = help_text(parser, action)
        meaning = re.sub(r"\(default: [^)]*\)", "", text).strip()
        assert meaning, f"{action.option_strings[0]} has no help text"
        assert "default" in text.lower(), f"{action.option_strings[0]}: {text!r} does not say its default"
    printed = parser.format_help()
    assert "(default: None)" not in printed and "%(default)" not in printed


def test_couple_help_shows_the_real_defaults():
    result = subprocess.run([sys.executable, "-m", "lab", "couple", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    flat = " ".join(result.stdout.split())           # argparse wraps lines
    for option, default in [("--lr LR", "0.001"), ("--epochs EPOCHS", "20"), ("--widths WIDTHS", "64,64"),
                            ("--batch-size BATCH_SIZE", "64"), ("--w-init W_INIT", "0.9,0.1"),
                            ("--eps EPS", "0.1"), ("--compare", "off")]:
        assert re.search(rf"{re.escape(option)} .*?\(default: {re.escape(default)}\)", flat), option


def test_the_playground_starts_from_the_cli_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("LAB_FAST", raising=False)               # both shrink under LAB_FAST; compare full runs
    args = build_parser().parse_args(["couple"])
    pg = CouplingPlayground(runs_root=tmp_path)
    config = pg.read_config()
    system, train = configs_from_args(args, args.strategy)
    assert config.system_config() == system                     # strategy, block, widths, w_init, seed
    assert config.train_config() == train                       # epochs, batch size, lr, optimiser, seed
    assert (pg.lr.value, pg.epochs.value, pg.batch_size.value, pg.width.value, pg.stages.value) == (
        args.lr, args.epochs, args.batch_size, args.widths[0], len(args.widths))
    assert (pg.w_self.value, pg.w_other.value) == args.w_init
    assert (pg.data.value, pg.structure.value, pg.seed.value, pg.strategy.value, pg.block.value) == (
        args.data, args.structure, args.seed, args.strategy, args.block)
    assert (pg.adv_eps.value, pg.adv_ratio.value) == (args.eps, args.adv_ratio)
    assert pg.adversarial.value == "off" and args.adversarial is None
    assert pg.weighting.value == "equal" and args.weighting is None and args.task_weights is None   # equal both


@pytest.mark.parametrize("data", ["digits", "mnist1d", "synthetic"])
def test_the_playground_and_the_cli_train_on_the_same_data(tmp_path, monkeypatch, data):
    monkeypatch.delenv("LAB_FAST", raising=False)
    pg = CouplingPlayground(runs_root=tmp_path)
    pg.data.value = data
    pg.num_modules.value = pg.num_modules.max if data != "synthetic" else 4     # every task (the CLI's)
    mine = pg.read_config().load_data()
    cli = data_from_args(build_parser().parse_args(["couple", "--data", data]))
    assert (len(mine.train), len(mine.val), len(mine.test)) == (len(cli.train), len(cli.val), len(cli.test))
    assert mine.task_names == cli.task_names and bool((mine.train.x == cli.train.x).all())


def test_a_compare_prints_a_line_per_strategy_as_it_starts_and_ends(capsys, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    assert main(["couple", "--data", "digits", "--compare", "--strategies", "independent,cross_stitch",
                 "--limit", "200", "--widths", "8", "--epochs", "2"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("[")]
    assert lines[0] == "[1/2] training independent (2 epochs) ..."
    assert re.fullmatch(r"\[1/2\] independent done: 2/2 epochs in \d+\.\d s \(total \d+\.\d s\)", lines[1])
    assert lines[2] == "[2/2] training cross_stitch (2 epochs) ..."
    assert re.fullmatch(r"\[2/2\] cross_stitch done: 2/2 epochs in \d+\.\d s \(total \d+\.\d s\)", lines[3])
    assert len(lines) == 4 and "[1/2]" not in captured.out          # progress on stderr, the table on stdout
    assert "\nindependent " in captured.out and "\ncross_stitch " in captured.out
