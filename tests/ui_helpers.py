"""Helpers shared by the widget-panel tests."""
import time


def wait_for(predicate, timeout=60.0):
    """Poll ``predicate`` until it is true; AssertionError after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for the panel")
        time.sleep(0.02)
