"""``kill -9`` at any moment of ``python -m lab couple --save`` leaves every run folder consistent."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lab.atomic import is_temp_name
from lab.checkpoint import read_checkpoint
from lab.history import History
from lab.runs import load_run, scan_runs

DRIVER = Path(__file__).with_name("run_and_kill.py")
KILLS = 10
# tiny data and one step per epoch: an epoch is mostly its two saves, so kills land inside them
COUPLE = ["--data", "synthetic", "--limit", "200", "--widths", "4,4", "--batch-size", "256", "--epochs", "100000"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the driver forks one trainer per kill")
def test_sigkill_at_random_moments_leaves_consistent_run_folders(tmp_path):
    done = subprocess.run([sys.executable, str(DRIVER), str(tmp_path), str(KILLS), "20261203", *COUPLE],
                          capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"killed": KILLS, "timeouts": 0}
    folders = sorted(tmp_path.glob("*/*"))
    assert len(folders) == KILLS
    lagging = 0
    for folder in folders:
        system, history = load_run(folder)                  # loads, and removes the killed writer's temp files
        payload = read_checkpoint(folder / "checkpoint.pt")
        assert payload["epochs"] == history.num_epochs      # checkpoint epoch == history epoch count
        saved_W = history.W[-1] if history.W else history.W_init
        np.testing.assert_allclose(np.asarray(saved_W),     # the weights are those of that epoch
                                   np.stack([W.detach().numpy() for W in system.coupling_matrices()]), atol=1e-6)
        on_disk = History.load(folder / "history.json").num_epochs
        assert on_disk in (history.num_epochs, history.num_epochs - 1)    # history.json is never ahead
        lagging += on_disk != history.num_epochs
        assert not [p.name for p in folder.iterdir() if is_temp_name(p.name)]
        runs, notes = scan_runs(folder.parent)
        assert notes == [] and [r.path for r in runs] == [folder]
    print(f"{lagging} of {KILLS} kills landed between writing checkpoint.pt and history.json")
