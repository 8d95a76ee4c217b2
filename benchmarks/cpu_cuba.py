"""CPU benchmark: Brian2's CUBA network, snncc's torch backend versus Brian2 2.9.

4000 neurons, 80 synapses per neuron, dt = 0.1 ms, 1 s simulated, on 2 CPU cores (the CI
machine's size; the process is pinned to the first 2 cores if it has more).

Every implementation simulates the SAME network: snncc builds it (``snncc.examples.
cuba_network``), and Brian2 receives snncc's connectivity (``sim.program.projections``,
absolute indices in ``P``) through ``Synapses.connect(i=..., j=...)`` and snncc's initial
``v``. Only the run is timed: each implementation first does a short warm-up run (code
generation, compilation, caches), then, ``--repeats`` times, restores the state at t = 0
(``load_state_dict`` / ``Network.restore``) and times one ``run(1 s)``. The median is
reported, with the firing rate of each (they must agree within 5%), and how long the
spike trains stay identical to Brian2's numpy target.

    python benchmarks/cpu_cuba.py                 # full run, writes benchmarks/results/
    python benchmarks/cpu_cuba.py --n 1000 --duration 0.2 --repeats 1 --no-cython

Writes ``results/cpu_cuba_<date>.json`` (machine, versions, all wall times, rates,
compile times) and ``results/cpu_cuba.md`` (the table). Exits with status 1 if the
firing rates disagree by more than 5%.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model, module_version  # noqa: E402

import snncc
from snncc.examples import CUBA_WE, CUBA_WI, cuba_network

RESULTS = Path(__file__).resolve().parent / "results"
RATE_TOLERANCE = 0.05


# ------------------------------------------------------------------------------ machine
def _gcc() -> str | None:
    try:
        out = subprocess.run(["gcc", "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.splitlines()[0] if out.returncode == 0 and out.stdout else None


def machine_info(cores: int) -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "nproc": os.cpu_count(),
        "cores_used": cores,
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "brian2": module_version("brian2"),
        "cython": module_version("Cython"),
        "gcc": _gcc(),
        "snncc": snncc.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg")
        else None,
    }


def use_cores(cores: int) -> int:
    """Pin this process to ``cores`` CPUs (if it has more) and size torch's pool."""
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > cores:
            os.sched_setaffinity(0, cpus[:cores])
        cores = min(cores, len(cpus))
    torch.set_num_threads(cores)
    return cores


# ------------------------------------------------------------------------------- spikes
def first_difference(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
                     dt: float) -> float | None:
    """Time (s) of the first step at which two spike trains (times, indices) differ;
    None if they are identical."""
    def key(t: np.ndarray, i: np.ndarray) -> np.ndarray:
        steps = np.rint(np.asarray(t) / dt).astype(np.int64)
        order = np.lexsort((i, steps))
        return np.stack([steps[order], np.asarray(i)[order]], axis=1)

    ka, kb = key(*a), key(*b)
    m = min(len(ka), len(kb))
    diff = np.nonzero(np.any(ka[:m] != kb[:m], axis=1))[0]
    if diff.size:
        k = int(diff[0])
        return float(min(ka[k, 0], kb[k, 0]) * dt)
    if len(ka) == len(kb):
        return None
    longer = ka if len(ka) > len(kb) else kb
    return float(longer[m, 0] * dt)


# -------------------------------------------------------------------------------- snncc
def run_snncc(n: int, duration: float, repeats: int, warmup: float, dtype: torch.dtype,
              seed: int) -> dict[str, Any]:
    net, h = cuba_network(n=n, seed=seed)
    t0 = time.perf_counter()
    net.compile(backend="torch", device="cpu", dtype=dtype)
    compile_s = time.perf_counter() - t0
    # compile again (generated source cached); the monitors bind to the latest module
    t0 = time.perf_counter()
    sim = net.compile(backend="torch", device="cpu", dtype=dtype)
    recompile_s = time.perf_counter() - t0
    init = {k: v.clone() for k, v in sim.state_dict().items()}
    t0 = time.perf_counter()
    sim.run(warmup * 1e3)
    warmup_s = time.perf_counter() - t0
    assert h.spikes is not None
    walls, loops, rates = [], [], []
    spikes: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0, np.int64))
    for _ in range(repeats):
        sim.load_state_dict(init)
        before = h.spikes.num_spikes
        t0 = time.perf_counter()
        sim.run(duration * 1e3)
        walls.append(time.perf_counter() - t0)
        loops.append(sim.last_run_seconds)
        rates.append((h.spikes.num_spikes - before) / n / duration)
        spikes = (np.asarray(h.spikes.t.value)[before:], h.spikes.i[before:])
    return {
        "program": sim.program,
        "spikes": spikes, "init_v": init["P__v"][0].to(torch.float64).cpu().numpy(),
        "result": {"wall_s": walls, "median_s": statistics.median(walls),
                   "loop_s": loops, "rate_hz": rates,
                   "median_rate_hz": statistics.median(rates), "compile_s": compile_s,
                   "recompile_s": recompile_s, "warmup_s": warmup_s,
                   "compile_seconds_reported": sim.compile_seconds,
                   "dtype": str(dtype).replace("torch.", "")},
    }


# ------------------------------------------------------------------------------- brian2
def cython_available() -> tuple[bool, str]:
    try:
        from brian2.codegen.runtime.cython_rt import CythonCodeObject
    except Exception as e:  # noqa: BLE001
        return False, f"Brian2's cython runtime cannot be imported: {e}"
    try:
        ok = CythonCodeObject.is_available()
    except Exception as e:  # noqa: BLE001
        return False, f"Brian2's cython availability check failed: {e}"
    return ok, "" if ok else "Brian2 reports its cython target unavailable (no compiler?)"


def run_brian2(target: str, n: int, duration: float, repeats: int, warmup: float,
               pairs: dict[str, tuple[np.ndarray, np.ndarray]], v0: np.ndarray
               ) -> dict[str, Any]:
    import brian2 as b2

    b2.prefs.codegen.target = target
    b2.set_device("runtime")
    ns = {"taum": 20 * b2.ms, "taue": 5 * b2.ms, "taui": 10 * b2.ms, "Vt": -50 * b2.mV,
          "Vr": -60 * b2.mV, "El": -49 * b2.mV,
          "we": float(CUBA_WE.value) * b2.volt, "wi": float(CUBA_WI.value) * b2.volt}
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    dt = 0.1 * b2.ms
    P = b2.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * b2.ms,
                       method="exact", namespace=ns, dt=dt, name="P")
    P.v = v0 * b2.volt
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=ns, dt=dt, name="Ce")
    Ce.connect(i=pairs["Ce"][0], j=pairs["Ce"][1])
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=ns, dt=dt, name="Ci")
    Ci.connect(i=pairs["Ci"][0], j=pairs["Ci"][1])
    spikes = b2.SpikeMonitor(P, name="spikes")
    vm = b2.StateMonitor(P, "v", record=[0, 1], dt=dt, name="vm")
    net = b2.Network(P, Ce, Ci, spikes, vm)
    net.store("init")
    t0 = time.perf_counter()
    net.run(warmup * b2.second)
    warmup_s = time.perf_counter() - t0
    walls, rates = [], []
    for _ in range(repeats):
        net.restore("init")
        t0 = time.perf_counter()
        net.run(duration * b2.second)
        walls.append(time.perf_counter() - t0)
        rates.append(spikes.num_spikes / n / duration)
    return {
        "spikes": (np.asarray(spikes.t / b2.second), np.asarray(spikes.i)),
        "result": {"wall_s": walls, "median_s": statistics.median(walls), "rate_hz": rates,
                   "median_rate_hz": statistics.median(rates),
                   "warmup_s_including_codegen": warmup_s, "target": target},
    }


# --------------------------------------------------------------------------------- main
def table(rows: list[dict[str, Any]], duration: float) -> str:
    ref = next((r for r in rows if r["name"] == "Brian2 numpy"), None)
    lines = ["| implementation | run (s), median | s per simulated s | vs Brian2 numpy "
             "| rate (Hz) | identical spikes until | compile or warm-up (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        res = r["result"]
        speed = f"{ref['result']['median_s'] / res['median_s']:.2f}x" if ref else "-"
        same = r.get("identical_until_s", "-")
        same = ("whole run" if same is None else f"{same * 1e3:.1f} ms"
                if isinstance(same, float) else same)
        comp = res.get("compile_s", res.get("warmup_s_including_codegen"))
        lines.append(f"| {r['name']} | {res['median_s']:.3f} | "
                     f"{res['median_s'] / duration:.3f} | {speed} | "
                     f"{res['median_rate_hz']:.3f} | {same} | {comp:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--duration", type=float, default=1.0, help="seconds simulated (1)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=0.01, help="warm-up run, seconds")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-brian2", action="store_true")
    ap.add_argument("--no-cython", action="store_true")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--no-save", action="store_true", help="print only")
    args = ap.parse_args(argv)

    cores = use_cores(args.cores)
    info = machine_info(cores)
    print(f"CUBA, {args.n} neurons, {args.duration:g} s simulated, dt 0.1 ms; "
          f"{info['cpu_model']}, {cores} of {info['nproc']} cores; "
          f"OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}", flush=True)

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    ref64 = None
    for dtype in (torch.float32, torch.float64):
        name = f"snncc torch {str(dtype).replace('torch.', '')}"
        print(f"  {name} ...", flush=True)
        out = run_snncc(args.n, args.duration, args.repeats, args.warmup, dtype, args.seed)
        rows.append({"name": name, "result": out["result"]})
        spikes[name] = out["spikes"]
        if dtype == torch.float64:
            ref64 = out
        else:
            pairs32 = {k: (p.i, p.j) for k, p in out["program"].projections.items()}
    assert ref64 is not None
    prog = ref64["program"]
    pairs = {k: (p.i.astype(np.int32), p.j.astype(np.int32))
             for k, p in prog.projections.items()}
    if any(not (np.array_equal(pairs32[k][0], pairs[k][0])
                and np.array_equal(pairs32[k][1], pairs[k][1])) for k in pairs):
        notes.append("snncc float32 and float64 builds drew different connectivity "
                     "from the same seed")
    n_syn = {k: int(p.n_synapses) for k, p in prog.projections.items()}

    if not args.no_brian2:
        targets = ["numpy"]
        if not args.no_cython:
            ok, why = cython_available()
            if ok:
                targets.append("cython")
            else:
                notes.append(f"Brian2 cython target skipped: {why}")
        for target in targets:
            name = f"Brian2 {target}"
            print(f"  {name} ...", flush=True)
            try:
                out = run_brian2(target, args.n, args.duration, args.repeats, args.warmup,
                                 pairs, ref64["init_v"])
            except Exception as e:  # noqa: BLE001 - report and go on
                notes.append(f"{name} failed: {type(e).__name__}: {str(e)[:300]}")
                print(f"    failed: {e}", flush=True)
                continue
            rows.append({"name": name, "result": out["result"]})
            spikes[name] = out["spikes"]

    reference = "Brian2 numpy" if "Brian2 numpy" in spikes else "snncc torch float64"
    for r in rows:
        if r["name"] != reference:
            r["identical_until_s"] = first_difference(spikes[r["name"]], spikes[reference],
                                                      prog.dt)
    rates = [r["result"]["median_rate_hz"] for r in rows]
    mean_rate = float(np.mean(rates))
    spread = max(abs(x - mean_rate) / mean_rate for x in rates) if mean_rate else 0.0
    agree = spread <= RATE_TOLERANCE

    md = table(rows, args.duration)
    header = (f"CUBA network, {args.n} neurons, {sum(n_syn.values())} synapses, "
              f"{args.duration:g} s simulated (dt 0.1 ms), median of {args.repeats} runs "
              f"after a {args.warmup * 1e3:g} ms warm-up; {info['cpu_model']}, {cores} "
              f"cores (torch {info['torch']}, numpy {info['numpy']}, brian2 "
              f"{info['brian2']}, Python {info['python']}, OPENBLAS_CORETYPE="
              f"{info['OPENBLAS_CORETYPE']}). 'identical spikes until': first step at "
              f"which the spike trains differ from {reference}'s. 'compile or warm-up': "
              "snncc's first net.compile() in the process (lowering, connectivity, passes, "
              "code generation); Brian2's warm-up run (code generation and, for cython, "
              "the C compilation unless cached in ~/.cython).")
    footer = [f"Firing rates agree within {spread * 100:.2f}% "
              f"({'OK' if agree else 'MISMATCH'}, tolerance {RATE_TOLERANCE * 100:g}%)."]
    footer += [f"Note: {x}" for x in notes]
    text = f"{header}\n\n{md}\n\n" + "\n".join(footer) + "\n"
    print()
    print(text)

    if not args.no_save:
        args.results.mkdir(parents=True, exist_ok=True)
        date = datetime.date.today().isoformat()
        payload = {
            "benchmark": "cpu_cuba", "date": date,
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "config": {"n": args.n, "duration_s": args.duration, "repeats": args.repeats,
                       "warmup_s": args.warmup, "seed": args.seed, "dt_s": prog.dt,
                       "synapses": n_syn, "timing": "wall time of run(duration) after a "
                       "warm-up run; state restored to t=0 before each repeat"},
            "machine": info,
            "implementations": {r["name"]: {**r["result"],
                                            "identical_until_s": r.get("identical_until_s")}
                                for r in rows},
            "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg")
            else None,
            "rates_agree": agree, "rate_spread": spread, "notes": notes,
            "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        }
        path = args.results / f"cpu_cuba_{date}.json"
        path.write_text(json.dumps(payload, indent=2) + "\n")
        (args.results / "cpu_cuba.md").write_text(text)
        print(f"wrote {path} and {args.results / 'cpu_cuba.md'}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
