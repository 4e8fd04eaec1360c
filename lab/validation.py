"""Field checks shared by every config: types, finiteness and ranges, with one message style.

Every checker returns the value in its canonical Python type (``int``, ``float``, ``bool``,
tuples) and raises ``ValueError`` whose message names the field, shows the bad value and says
what is allowed — e.g. ``epochs must be an integer from 1 to 100000, got 2.5 (float)``. Callers
(panels, the CLI) catch ``ValueError`` and show the message as it is.

Accepted types: ``int`` fields take Python and NumPy integers (``np.int64(5)``), never ``bool``
and never floats (``2.0`` included: a whole number is written without a point); ``float`` fields
take Python/NumPy integers and floats, never ``bool`` or strings, and are always finite.

Limits that hold for every config (far above what the lab needs; they stop a typo or a hostile
file from asking for absurd amounts of memory or time before anything is allocated):

=====================  ===============  =================================================
constant               value            what it bounds
=====================  ===============  =================================================
``SEED_MAX``           2**31 - 1        seeds: torch, NumPy and scikit-learn all accept
                                        0..2**32-1, and derived seeds (seed + k) must fit
``MAX_EPOCHS``         100 000          training / fine-tuning epochs
``MAX_BATCH_SIZE``     1 000 000        examples per step
``LR_MAX``             1e6              learning rates: beyond it a value is a typo (1e38 overflows
                                        float32 updates); up to it training runs, and a rate that
                                        explodes the loss is reported as divergence
=====================  ===============  =================================================
"""
from __future__ import annotations

import math
import numbers
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

SEED_MAX = 2 ** 31 - 1
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 1_000_000
LR_MAX = 1e6
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")


def show(value: Any) -> str:
    """A short, readable rendering of a bad value: its repr (cut at 60 characters) and, unless it is
    a plain int/float, its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(value, (int, float, list, tuple, type(None))):
        return f"{text} ({type(value).__name__})"
    return text


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range(min: float | None, max: float | None, min_open: bool = False, max_open: bool = False) -> str:
    """">= 1 and <= 10", "> 0", "< 1" or "" (no bounds)."""
    parts = []
    if min is not None:
        parts.append(f"{'>' if min_open else '>='} {_fmt(min)}")
    if max is not None:
        parts.append(f"{'<' if max_open else '<='} {_fmt(max)}")
    return " and ".join(parts)


def _int_message(name: str, value: Any, min: int | None, max: int | None, extra: str = "") -> str:
    rng = _range(min, max)
    if _is_int(value) and rng:
        return f"{name} must be {rng}{extra}, got {show(value)}"
    return f"{name} must be an integer{' ' + rng if rng else ''}{extra}, got {show(value)}"


def _float_message(name: str, value: Any, min: float | None, max: float | None, min_open: bool, max_open: bool,
                   extra: str = "") -> str:
    rng = _range(min, max, min_open, max_open)
    try:
        finite = _is_real(value) and math.isfinite(float(value))
    except OverflowError:
        finite = False
    if finite and rng:
        return f"{name} must be {rng}{extra}, got {show(value)}"
    return f"{name} must be a finite number{' ' + rng if rng else ''}{extra}, got {show(value)}"


def check_int(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:
    """``value`` as an ``int``; ValueError unless it is an integer (not bool, not float) in [min, max]."""
    if not _is_int(value) or (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(_int_message(name, value, min, max))
    return int(value)


def check_optional_int(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int | None:
    """None stays None; anything else as in :func:`check_int` (the message adds "or None")."""
    if value is None:
        return None
    if not _is_int(value) or (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(_int_message(name, value, min, max, " (or None)"))
    return int(value)


def check_float(name: str, value: Any, *, min: float | None = None, max: float | None = None,
                min_open: bool = False, max_open: bool = False) -> float:
    """``value`` as a finite ``float`` in the interval (open ends with ``min_open``/``max_open``)."""
    try:
        ok = _is_real(value) and math.isfinite(float(value))
    except OverflowError:           # an int beyond float range, e.g. 10**400
        ok = False
    if ok:
        v = float(value)
        ok = not ((min is not None and (v < min or (min_open and v == min)))
                  or (max is not None and (v > max or (max_open and v == max))))
    if not ok:
        raise ValueError(_float_message(name, value, min, max, min_open, max_open))
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a ``bool``; ValueError for anything but True/False (0/1 and "yes" included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {show(value)}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable[str], *, unknown: str | None = None) -> str:
    """``value`` when it is one of ``choices`` (strings, compared exactly). ``unknown`` words the
    message as "unknown <unknown> 'x'; choose from [...]" instead of "<name> must be one of [...]"."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        if unknown is not None and isinstance(value, str):
            raise ValueError(f"unknown {unknown} {value!r}; choose from {choices}")
        raise ValueError(f"{name} must be one of {choices}, got {show(value)}")
    return value


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer from 0 to ``SEED_MAX``."""
    return check_int(name, value, min=0, max=SEED_MAX)


def check_str(name: str, value: Any, *, max_len: int = 200, empty: bool = False) -> str:
    """A string (non-empty unless ``empty``) of at most ``max_len`` characters."""
    if not isinstance(value, str) or (not empty and not value.strip()) or len(value) > max_len:
        what = "a string" if empty else "a non-empty string"
        raise ValueError(f"{name} must be {what} of at most {max_len} characters, got {show(value)}")
    return value


def check_device(value: Any, name: str = "device") -> str:
    """A torch device string ("cpu", "cuda", "cuda:0", ...) that names a device this machine has."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a device name such as 'cpu' or 'cuda', got {show(value)}")
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} must be a device name such as 'cpu' or 'cuda', got {show(value)}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} {value!r} is not available on this machine (no CUDA device); use 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{name} {value!r} does not exist: this machine has {torch.cuda.device_count()} CUDA "
                         "device(s)")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} must be 'cpu' or a CUDA device, got {value!r}")
    return value


def _sequence(name: str, value: Any, what: str, min_len: int, max_len: int | None, length: int | None) -> list:
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(f"{name} must be a list or tuple of {what}, got {show(value)}")
    items = list(value)
    if length is not None and len(items) != length:
        raise ValueError(f"{name} must hold exactly {length} {what}, got {len(items)}: {show(value)}")
    if len(items) < min_len or (max_len is not None and len(items) > max_len):
        count = f"{min_len} to {max_len}" if max_len is not None else f"at least {min_len}"
        raise ValueError(f"{name} must hold {count} {what}, got {len(items)}: {show(value)}")
    return items


def check_ints(name: str, value: Any, *, min: int | None = None, max: int | None = None, min_len: int = 1,
               max_len: int | None = None, length: int | None = None) -> tuple[int, ...]:
    """A list/tuple of integers, each in [min, max]; its length in [min_len, max_len] (or ``length``)."""
    items = _sequence(name, value, "integers", min_len, max_len, length)
    for i, v in enumerate(items):
        if not _is_int(v) or (min is not None and v < min) or (max is not None and v > max):
            raise ValueError(f"{name} must hold integers {_range(min, max)}; entry {i} is {show(v)} in {show(value)}")
    return tuple(int(v) for v in items)


def check_floats(name: str, value: Any, *, min: float | None = None, max: float | None = None,
                 min_open: bool = False, max_open: bool = False, min_len: int = 1, max_len: int | None = None,
                 length: int | None = None) -> tuple[float, ...]:
    """A list/tuple of finite numbers, each in the interval; its length as in :func:`check_ints`."""
    items = _sequence(name, value, "numbers", min_len, max_len, length)
    for i, v in enumerate(items):
        try:
            check_float(name, v, min=min, max=max, min_open=min_open, max_open=max_open)
        except ValueError:
            raise ValueError(f"{name} must hold finite numbers {_range(min, max, min_open, max_open)}; "
                             f"entry {i} is {show(v)} in {show(value)}") from None
    return tuple(float(v) for v in items)


def check_optimiser_settings(epochs: Any, batch_size: Any, lr: Any, optimizer: Any, weight_decay: Any,
                             min_epochs: int = 1) -> None:
    """Raise ValueError naming the first optimiser setting of the wrong type or outside its range:
    epochs in [min_epochs, MAX_EPOCHS], batch_size in [1, MAX_BATCH_SIZE], lr in (0, LR_MAX],
    optimizer adam|sgd, weight_decay in [0, 1]."""
    check_int("epochs", epochs, min=min_epochs, max=MAX_EPOCHS)
    check_int("batch_size", batch_size, min=1, max=MAX_BATCH_SIZE)
    check_float("lr", lr, min=0.0, max=LR_MAX, min_open=True)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_float("weight_decay", weight_decay, min=0.0, max=1.0)


def normalise_fields(obj: Any, checks: dict[str, Any]) -> None:
    """Store the checked values back on a frozen dataclass (``np.int64(5)`` becomes ``5``)."""
    for field_name, value in checks.items():
        object.__setattr__(obj, field_name, value)


def check_output_path(name: str, path: Any, suffix: str) -> Path:
    """A file that can be written: its name ends in ``suffix``, it is not a folder, and its folder (or
    the nearest existing folder above, which will hold the new folders) is writable."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ValueError(f"{name} must be a file path ending in {suffix}, got {show(path)}")
    p = Path(path)
    if p.suffix != suffix:
        raise ValueError(f"{name} must be a file name ending in {suffix}, got {str(path)!r}")
    if p.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder; give a file name ending in {suffix}")
    folder = p.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{name} {str(path)!r} cannot be written: {folder} is a file, not a folder")
    try:                                   # the real test (os.access says yes to root even on /proc)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"{name} {str(path)!r} cannot be written: {folder} does not take new files "
                         f"({err.strerror or type(err).__name__})") from None
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"{name} {str(path)!r} cannot be written: the file exists and is read-only")
    return p


# --- tensors ---------------------------------------------------------------------------------------
def as_float_tensor(name: str, x: Any, dtype: torch.dtype = torch.float32) -> Tensor:
    """Inputs as a floating tensor of ``dtype`` (float32 by default).

    The rule: a tensor or NumPy array (or a nested list of numbers) of any real dtype — bool,
    integer, float16/bfloat16/float64 — is converted to ``dtype`` (values kept; float64 rounds to
    float32). Complex, string and object arrays are refused with a ValueError naming ``name``.
    """
    if not isinstance(x, Tensor):
        if isinstance(x, np.ndarray) and x.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold real numbers, got a NumPy array of dtype {x.dtype}")
        try:
            x = torch.as_tensor(np.asarray(x) if not isinstance(x, np.ndarray) else x)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be a tensor or array of numbers, got {show(x)}") from None
    if x.is_complex() or x.dtype in (torch.quint8, torch.qint8, torch.qint32):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x if x.dtype == dtype else x.to(dtype)


def as_label_tensor(name: str, y: Any) -> Tensor:
    """Targets as a tensor: integer and bool labels become int64, floating targets float32 (a
    NumPy array or list is converted the same way). Complex/string/object data raise ValueError."""
    if not isinstance(y, Tensor):
        if isinstance(y, np.ndarray) and y.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold numbers, got a NumPy array of dtype {y.dtype}")
        try:
            y = torch.as_tensor(np.asarray(y) if not isinstance(y, np.ndarray) else y)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be a tensor or array of numbers, got {show(y)}") from None
    if y.is_complex():
        raise ValueError(f"{name} must hold real numbers, got dtype {y.dtype}")
    if y.dtype == torch.bool or not (y.is_floating_point() or y.dtype == torch.int64):
        return y.to(torch.int64)
    if y.is_floating_point() and y.dtype != torch.float32:
        return y.to(torch.float32)
    return y
