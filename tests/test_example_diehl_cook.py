"""A tiny run of examples/diehl_cook.py (Diehl & Cook 2015, STDP on MNIST) end to end:
10 excitatory neurons, 20 training and 20 hold-out images. Skipped without the MNIST
files. The full run and its accuracy are quoted in the example's docstring."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "diehl_cook.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_diehl_cook", EXAMPLE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_diehl_cook_smoke_run(tmp_path: Path) -> None:
    dc = _load()
    if not dc.DEFAULT_DATA.is_dir():
        pytest.skip(f"no MNIST files at {dc.DEFAULT_DATA}")
    argv = ["--quick", "--quiet", "--seed", "0", "--backend", "torch", "--threads", "1"]
    plot = tmp_path / "rf.png"
    if importlib.util.find_spec("matplotlib") is not None:
        argv += ["--plot", str(plot)]
    result = dc.main(argv)
    assert (result["neurons"], result["n_train"], result["n_test"]) == (10, 20, 20)
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["predictions"].shape == (20,)

    w, w0 = result["weights"], result["initial_weights"]  # [784, 10], both normalised
    assert w.shape == w0.shape == (784, 10)
    # the initial weights are uniform(0, 0.3) scaled to sum 78 per neuron
    np.testing.assert_allclose(w0.sum(0), dc.W_SUM, rtol=1e-4)
    # STDP changed them (normalisation alone is idempotent), within [0, wmax]
    assert np.abs(w - w0).max() > 0.05
    assert w.min() >= 0.0 and w.max() <= dc.W_MAX + 1e-6
    np.testing.assert_allclose(w.sum(0), dc.W_SUM, rtol=1e-4)

    # theta is kept across net.run calls: it adds up 0.05 mV per spike of all the
    # presentations (less the negligible decay with tau = 1e7 ms)
    theta = result["theta"]
    spikes = result["train"]["spikes_all_presentations"]
    assert spikes > 0 and theta.min() >= 0
    assert theta.sum() == pytest.approx(spikes * 0.05e-3, rel=1e-3)

    assert result["train"]["presentations"] >= result["n_train"]
    if "--plot" in argv:
        assert plot.stat().st_size > 0
