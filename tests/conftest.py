import os

import pytest
import torch

os.environ.setdefault("LAB_FAST", "1")
torch.set_num_threads(1)  # tiny models: one thread is fastest and least sensitive to load


@pytest.fixture(scope="session")
def digits():
    from lab.data import load_digits_tasks
    return load_digits_tasks(seed=0, limit=400)


@pytest.fixture(scope="session")
def synthetic():
    from lab.data import load_synthetic
    return load_synthetic(num_modules=4, structure="chain", seed=0)


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory):
    """One JupyterLab server for every browser test of the session (tests/test_browser.py: ``lab_server``)."""
    from test_browser import lab_server
    yield from lab_server(tmp_path_factory)
