"""Smoke test of benchmarks/layers.py: quick mode on the CPU (a few seconds)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "layers.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_layers", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while it executes
    spec.loader.exec_module(mod)
    return mod


def test_quick_cpu_run_writes_results(tmp_path: Path) -> None:
    bench = _load()
    rc = bench.main(["--quick", "--device", "cpu", "--threads", "1", "--repeats", "3",
                     "--out", str(tmp_path)])
    assert rc == 0
    files = sorted(tmp_path.glob("layers_*.json"))
    assert len(files) == 1, files
    md = files[0].with_suffix(".md")
    assert md.exists() and "| model | implementation |" in md.read_text()
    data = json.loads(files[0].read_text())
    assert data["benchmark"] == "layers"
    assert data["machine"]["torch"] and data["machine"]["python"]
    assert "triton" in data["machine"] and "spikingjelly" in data["machine"]
    cfg = data["config"]
    assert cfg["quick"] and cfg["neurons"] == cfg["batch"] * cfg["width"]
    assert cfg["models"] == ["lif", "alif", "izhikevich"]
    assert data["copy_ceiling"]["gb_s"] > 0
    rows = {(r["model"], r["impl"]): r for r in data["rows"]}
    for model in cfg["models"]:
        for impl in ("eager", "snncc"):
            r = rows[(model, impl)]
            assert r["status"] == "ok", (model, impl, r.get("error"))
            assert r["forward_ms"] > 0 and r["forward_backward_ms"] > 0
            assert r["forward_gb_s"] > 0 and r["forward_backward_gb_s"] > 0
            assert r["peak_bytes"] is None  # n/a on the CPU
            assert 0 < r["spike_rate"] < 1
        snncc = rows[(model, "snncc")]
        assert snncc["backend"] == "torch"
        # the same dynamics as the eager loop: the same spikes, the same gradients
        assert snncc["spike_mismatch"] < 1e-3, snncc["spike_mismatch"]
        assert snncc["grad_close"] > (0.95 if model == "izhikevich" else 0.999), snncc["grad_close"]
        if model != "izhikevich":  # its fp32 gradients are ill-conditioned for a few neurons
            assert snncc["grad_rel_err"] < 1e-3, snncc["grad_rel_err"]
        sj = rows[(model, "spikingjelly")]
        if data["machine"]["spikingjelly"] is None:
            assert sj["status"] == "skipped" and "not installed" in sj["error"]
        assert (model, "compile") not in rows  # left out of --quick on the CPU
