"""Smoke test of benchmarks/simulation.py: quick mode on the CPU (a few seconds)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "simulation.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_simulation", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while it executes
    spec.loader.exec_module(mod)
    return mod


def test_quick_cpu_run_writes_results_and_rates_agree(tmp_path: Path) -> None:
    # one torch thread: MKL/OpenMP barriers crawl when another process shares the cores
    bench = _load()
    rc = bench.main(["--quick", "--device", "cpu", "--backend", "torch", "--models", "cuba",
                     "--threads", "1", "--out", str(tmp_path)])
    assert rc == 0
    files = sorted(tmp_path.glob("simulation_*.json"))
    assert len(files) == 1, files
    assert files[0].with_suffix(".md").exists()
    data = json.loads(files[0].read_text())
    assert data["machine"]["torch"] and data["machine"]["python"]
    assert data["config"]["sizes"] == [1000] and data["config"]["quick"]
    rows = {r["implementation"]: r for r in data["rows"]}
    assert set(rows) == {"snncc (torch)", "eager dense", "eager CSR"}, rows.keys()
    for name, r in rows.items():
        assert r["status"] == "ok", (name, r.get("error"))
        assert r["model"] == "cuba" and r["n"] == 1000
        assert r["s_per_sim_s"] > 0
    snncc = rows["snncc (torch)"]
    assert snncc["compile_cold_s"] > 0 and snncc["compile_cached_s"] > 0
    rates = [r["rate_hz"] for r in rows.values()]
    assert min(rates) > 0, rates
    assert max(rates) <= 1.2 * min(rates), rates
