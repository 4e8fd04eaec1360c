"""The training-panel base every panel builds on: thread, Stop, refusal, errors, throttle."""
import threading
import time

import pytest
import torch

from lab.ui import Throttle, TrainingPanel


class CountingPanel(TrainingPanel):
    """A panel whose job counts until stopped (or raises what ``fail`` holds)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.count, self.threads_seen, self.fail, self.bad = 0, None, None, False
        self.started = threading.Event()

    def prepare(self):
        if self.bad:
            raise ValueError("epochs must be >= 1, got 0")

        def job(stop):
            self.threads_seen = torch.get_num_threads()
            self.started.set()
            if self.fail:
                raise self.fail
            while not stop.is_set() and self.count < 10_000:
                self.count += 1
                time.sleep(0.001)
        return job


def test_train_runs_in_a_thread_and_stop_ends_it(tmp_path):
    torch.set_num_threads(2)
    panel = CountingPanel(runs_root=tmp_path, num_threads=1)
    panel.train_button.click()
    assert panel.started.wait(10) and panel.running and not panel.stop_button.disabled
    assert panel._thread is not threading.current_thread()
    panel.train_button.click()
    assert "already running" in panel.message_text
    panel.stop_button.click()
    assert panel.wait(10) and not panel.running and panel.count < 10_000
    assert panel.threads_seen == 1 and torch.get_num_threads() == 2     # restored after the job
    assert panel.stop_button.disabled


def test_errors_become_messages(tmp_path):
    panel = CountingPanel(runs_root=tmp_path)
    panel.bad = True
    panel.train_button.click()
    assert not panel.running and panel.message_text == "Cannot train with these settings: epochs must be >= 1, got 0"
    panel.bad, panel.fail = False, RuntimeError("out of memory")
    assert not panel.run()
    assert panel.error == "RuntimeError: out of memory" and "Traceback" not in panel.message.value
    assert panel.status.value == "failed: RuntimeError: out of memory"
    panel.stop_button.click()
    assert "Nothing is training" in panel.message_text


def test_throttle_and_bad_settings():
    t = Throttle(60)
    assert t.ready() and not t.ready() and t.ready(force=True)
    assert Throttle(0).ready() and Throttle(0).ready()
    with pytest.raises(ValueError, match="interval"):
        Throttle(-1)
    with pytest.raises(ValueError, match="num_threads"):
        CountingPanel(num_threads=0)
