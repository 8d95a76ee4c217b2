"""The learning examples learn: examples/digits_mlp.py reaches 95% on scikit-learn's digits
with its default settings, and a tiny run of examples/mnist_conv.py works end to end.

The full MNIST run (8000 training images, a few epochs, several minutes on 2 CPU cores) is
not run here; its measured accuracy and time are quoted in the example's docstring. One
torch thread: with two, a machine shared with other processes slows these down a
hundredfold (OpenMP barriers).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_digits_mlp_reaches_95_percent() -> None:
    pytest.importorskip("sklearn")
    digits = _load("digits_mlp")
    result = digits.main(["--quiet"])
    assert result["accuracy"] >= 0.95, result["accuracy"]
    assert len(result["history"]) == result["epochs"]
    assert result["seconds_per_epoch"] > 0


def test_mnist_conv_smoke_run() -> None:
    mnist = _load("mnist_conv")
    if not mnist.DEFAULT_DATA.is_dir():
        pytest.skip(f"no MNIST files at {mnist.DEFAULT_DATA}")
    result = mnist.main(["--limit", "400", "--epochs", "1", "--steps", "2", "--threads", "1",
                         "--quiet"])
    assert result["n_train"] == 400 and result["n_holdout"] == 100
    assert 0.0 <= result["accuracy"] <= 1.0
    (epoch,) = result["history"]
    assert math.isfinite(epoch["loss"]) and 0 < epoch["loss"] < 10
    assert result["seconds_per_epoch"] > 0


def test_mnist_conv_without_data_says_to_pass_data(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    mnist = _load("mnist_conv")
    from snncc.errors import DataError

    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        mnist.main(["--data", str(tmp_path), "--limit", "10", "--quiet"])
