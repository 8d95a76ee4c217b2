"""The Potjans-Diesmann cortical microcircuit: snncc against Brian2 on the same network.

The network is ``examples/microcircuit.py`` (NEST's PyNEST microcircuit with the DC
background, or with ``--background poisson`` ``K_ext`` Poisson sources per neuron, which
both simulators draw with their ``PoissonInput``): for each scale its synapses, weights,
delays and initial potentials are drawn once from ``--seed`` with numpy, and snncc (torch
backend, float32) and Brian2 (cython target; ``--brian2-target numpy`` for the numpy one)
simulate exactly these. In-degrees are scaled by ``--k-scale`` (default: the scale
itself, at least 0.1, as ``examples/microcircuit.py`` explains; the weights and a DC
compensate), so scale 1.0 is the full network.

Each (simulator, scale) runs in a fresh Python process, so memory is measured alone and a
run that fails or passes ``--timeout`` is recorded and the others go on. Per run:

* build s: making the network objects and their synapses (for snncc ``build()``, which also
  draws the connectivity with numpy; Brian2 gets the same drawn arrays, whose drawing is
  timed apart as ``draw_s``);
* compile s: snncc's ``net.compile()``; Brian2's ``Network.run(0*ms)`` (code generation
  and, for cython, compilation, without a step). snncc's cache is empty (a fresh
  ``SNNCC_CACHE_DIR`` per process); Brian2 uses its own cython cache (``~/.cython``), as
  its users do: the very first cython run also compiles the code that ``connect()`` and
  setting ``w`` and ``delay`` need (about 3 minutes more on 2 cores, in build and compile);
* s per simulated s: wall time of one ``run(--duration)`` after a ``--warmup`` run;
* bytes per synapse (compiled): what snncc's compiled network holds
  (``CompiledNetwork.memory()``: its state, weights included, and its static tables) per
  synapse;
* bytes per synapse (RSS): the growth of the process's resident memory (RSS) from before
  building to after compiling, divided by the number of synapses. It counts everything the
  simulator keeps (synapse arrays, copies, generated code, caches) and whatever the
  allocator has not returned, so it is an upper bound of the memory per synapse;
* population rates over the timed run, next to the published ones (NEST's
  ``full_mean_rates``).

    python benchmarks/microcircuit.py                                 # scales 0.05, 0.1
    python benchmarks/microcircuit.py --scales 0.1 --snncc-only-scales 0.25 0.5 1.0
    python benchmarks/microcircuit.py --quick --out /tmp/mc           # smoke test

Writes ``microcircuit_<machine>_<date>.json`` and ``.md`` to ``benchmarks/results/`` (or
``--out``).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, slug, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
EXAMPLE = ROOT / "examples" / "microcircuit.py"
RESULT_TAG = "MICROCIRCUIT_RESULT "  # prefixes the worker's one line of JSON on stdout
SNNCC, BRIAN2 = "snncc", "brian2"
QUICK = {"scales": [0.005], "duration": 5.0, "warmup": 1.0}


def load_example() -> ModuleType:
    """``examples/microcircuit.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("microcircuit_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while it executes
    spec.loader.exec_module(mod)
    return mod


def rss_bytes() -> int | None:
    """This process's resident memory (bytes), from /proc (None elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------------------ workers
def run_snncc(mc: ModuleType, scale: float, k_scale: float, seed: int, duration: float,
              warmup: float, background: str) -> dict[str, Any]:
    """Build, compile (cold cache), warm up and time snncc; torch backend, float32, CPU."""
    from snncc.units import ms

    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    circuit = mc.build(scale, k_scale, seed, background)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = circuit.net.compile(backend="torch", device="cpu", dtype=torch.float32)
    compile_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_bytes()
    held = sim.memory()
    t0 = time.perf_counter()
    sim.run(warmup * ms)
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(duration * ms)
    run_s = time.perf_counter() - t0
    return {"neurons": int(circuit.derived.offsets[-1]),
            "synapses": circuit.num_synapses,
            "build_s": build_s, "compile_s": compile_s, "warmup_s": warmup_s,
            "run_s": run_s, "rss_before": rss0, "rss_after_compile": rss1,
            "compiled_bytes_per_synapse": (held["state"] + held["tables"])
            / circuit.num_synapses,
            "rates_hz": circuit.rates_hz(warmup, warmup + duration).tolist()}


def run_brian2(mc: ModuleType, scale: float, k_scale: float, seed: int, duration: float,
               warmup: float, target: str, background: str) -> dict[str, Any]:
    """The same network in Brian2 (``target``: cython or numpy), from the same draws."""
    import brian2 as b2

    b2.prefs.codegen.target = target
    b2.defaultclock.dt = mc.DT_MS * b2.ms
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    d = mc.derive(scale, k_scale, background)
    pathways = mc.draw_pathways(d, seed)
    v0 = mc.initial_v_mv(d, seed)
    draw_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    off = d.offsets
    namespace = {"E_L": mc.E_L_MV * b2.mV, "V_reset": mc.V_RESET_MV * b2.mV,
                 "V_th": mc.V_TH_MV * b2.mV, "tau_m": mc.TAU_M_MS * b2.ms,
                 "C_m": mc.C_M_PF * b2.pF, "tau_syn": mc.TAU_SYN_MS * b2.ms}
    neurons = b2.NeuronGroup(int(off[-1]), mc.MODEL.equations.text, threshold="v > V_th",
                             reset="v = V_reset", refractory=mc.T_REF_MS * b2.ms,
                             method="exact", namespace=namespace, name="neurons")
    neurons.v = v0 * b2.mV
    neurons.I_dc = np.repeat(d.dc_pa, d.sizes) * b2.pA
    objects: list[Any] = [neurons]
    for p in pathways:
        syn = b2.Synapses(neurons[off[p.source]:off[p.source + 1]], neurons, "w : amp",
                          on_pre="I_post += w", name=f"from_{mc.POPULATIONS[p.source]}")
        syn.connect(i=p.i, j=p.j)
        syn.w = p.weight_pa * b2.pA
        syn.delay = p.delay_ms * b2.ms
        objects.append(syn)
    del pathways, p
    if background == "poisson":  # Brian2's PoissonInput, as snncc's
        for k in range(8):
            objects.append(b2.PoissonInput(
                neurons[off[k]:off[k + 1]], "I", int(d.poisson_sources[k]),
                mc.BG_RATE_HZ * b2.Hz, weight=d.poisson_weight_pa * b2.pA))
    spikes = b2.SpikeMonitor(neurons)
    net = b2.Network(*objects, spikes)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(0 * b2.ms)  # generates (and for cython compiles) the code, no steps
    compile_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_bytes()
    t0 = time.perf_counter()
    net.run(warmup * b2.ms)
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(duration * b2.ms)
    run_s = time.perf_counter() - t0
    rates = mc.population_rates_hz(np.asarray(spikes.i), np.asarray(spikes.t / b2.ms), off,
                                   warmup, warmup + duration)
    return {"neurons": int(off[-1]), "synapses": int(d.synapses.sum()), "draw_s": draw_s,
            "build_s": build_s, "compile_s": compile_s, "warmup_s": warmup_s,
            "run_s": run_s, "rss_before": rss0, "rss_after_compile": rss1,
            "rates_hz": rates.tolist()}


def worker(args: argparse.Namespace) -> int:
    """One (simulator, scale) run; prints its result as one tagged JSON line."""
    if args.threads:
        torch.set_num_threads(args.threads)
    mc = load_example()
    with tempfile.TemporaryDirectory(prefix="microcircuit_bench_") as cache:
        os.environ["SNNCC_CACHE_DIR"] = str(Path(cache) / "snncc")
        if args.worker == SNNCC:
            out = run_snncc(mc, args.scale, args.k_scale, args.seed, args.duration,
                            args.warmup, args.background)
        else:
            out = run_brian2(mc, args.scale, args.k_scale, args.seed, args.duration,
                             args.warmup, args.brian2_target, args.background)
    print(RESULT_TAG + json.dumps(out), flush=True)
    return 0


# ------------------------------------------------------------------------------- driver
def run_one(impl: str, scale: float, k_scale: float, args: argparse.Namespace
            ) -> dict[str, Any]:
    """Run a worker process; its result, or the reason it has none."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl,
           "--scale", repr(scale), "--k-scale", repr(k_scale), "--seed", str(args.seed),
           "--duration", repr(args.duration), "--warmup", repr(args.warmup),
           "--brian2-target", args.brian2_target, "--threads", str(args.threads),
           "--background", args.background]
    name = SNNCC + " (torch, float32)" if impl == SNNCC else f"Brian2 ({args.brian2_target})"
    row: dict[str, Any] = {"implementation": name, "scale": scale, "k_scale": k_scale}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        row.update(status="timeout", error=f"no result within --timeout {args.timeout:g} s")
        return row
    finally:
        row["process_s"] = time.perf_counter() - t0
    lines = [x for x in proc.stdout.splitlines() if x.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        row.update(status="error", error=" | ".join(tail) or f"exit status {proc.returncode}")
        return row
    out = json.loads(lines[-1][len(RESULT_TAG):])
    row.update(out, status="ok", s_per_sim_s=out["run_s"] / (args.duration * 1e-3))
    if out["rss_before"] is not None and out["rss_after_compile"] is not None:
        row["bytes_per_synapse"] = ((out["rss_after_compile"] - out["rss_before"])
                                    / max(out["synapses"], 1))
    return row


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def table(rows: list[dict[str, Any]], populations: tuple[str, ...],
          published: np.ndarray) -> str:
    """Timings per scale and simulator, then the rates next to the published ones."""
    out = ["| scale | k_scale | simulator | neurons | synapses | build s | compile s | "
           "s per simulated s | bytes/synapse (RSS) | bytes/synapse (compiled) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "ok":
            out.append(f"| {r['scale']:g} | {r['k_scale']:g} | {r['implementation']} | "
                       f"{r['status']}: {r['error']} | | | | | | |")
            continue
        out.append(f"| {r['scale']:g} | {r['k_scale']:g} | {r['implementation']} | "
                   f"{r['neurons']:,} | {r['synapses']:,} | {r['build_s']:.2f} | "
                   f"{r['compile_s']:.2f} | {r['s_per_sim_s']:.2f} | "
                   f"{_num(r.get('bytes_per_synapse'), '.0f')} | "
                   f"{_num(r.get('compiled_bytes_per_synapse'), '.1f')} |")
    out += ["", "| scale | simulator | " + " | ".join(populations) + " |",
            "|---|---|" + "---|" * len(populations),
            "| | published | " + " | ".join(f"{x:.2f}" for x in published) + " |"]
    out += [f"| {r['scale']:g} | {r['implementation']} | "
            + " | ".join(f"{x:.2f}" for x in r["rates_hz"]) + " |"
            for r in rows if r["status"] == "ok"]
    return "\n".join(out)


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.05, 0.1],
                    help="scales run by snncc and Brian2")
    ap.add_argument("--snncc-only-scales", type=float, nargs="*", default=[],
                    help="scales run by snncc alone (e.g. 0.25 0.5 1.0)")
    ap.add_argument("--k-scale", type=float, default=None,
                    help="in-degree scaling for every scale (default: the scale, >= 0.1)")
    ap.add_argument("--duration", type=float, default=200.0, help="timed run (ms)")
    ap.add_argument("--warmup", type=float, default=50.0,
                    help="simulated before the timed run (ms); rates leave it out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--background", choices=("dc", "poisson"), default="dc",
                    help="K_ext Poisson sources per neuron (PoissonInput in both "
                         "simulators) or their mean as DC")
    ap.add_argument("--brian2-target", choices=("cython", "numpy"), default="cython")
    ap.add_argument("--no-brian2", action="store_true", help="snncc only")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (0: torch's default)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds per (simulator, scale) process")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: scale {QUICK['scales'][0]}, {QUICK['duration']:g} ms "
                         f"after {QUICK['warmup']:g} ms, Brian2's numpy target")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker", choices=(SNNCC, BRIAN2), help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.scales, args.duration, args.warmup = QUICK["scales"], QUICK["duration"], \
            QUICK["warmup"]
        args.brian2_target = "numpy"  # no C compiler run in a smoke test
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.worker:
        return worker(args)
    mc = load_example()
    info = machine_info(torch.device("cpu"), modules=("brian2", "Cython"))
    runs = [(impl, s) for s in args.scales
            for impl in ((SNNCC,) if args.no_brian2 else (SNNCC, BRIAN2))]
    runs += [(SNNCC, s) for s in args.snncc_only_scales]
    print(f"Microcircuit on {info['device']}: {args.duration:g} ms after {args.warmup:g} ms "
          f"warm-up; {len(runs)} runs", flush=True)
    rows = []
    for impl, scale in runs:
        k_scale = mc.default_k_scale(scale) if args.k_scale is None else args.k_scale
        print(f"  {impl} scale {scale:g} (k_scale {k_scale:g}) ...", end=" ", flush=True)
        row = run_one(impl, scale, k_scale, args)
        rows.append(row)
        print(f"{row['s_per_sim_s']:.2f} s/s" if row["status"] == "ok"
              else f"{row['status']}: {row['error']}", flush=True)

    header = (f"Potjans-Diesmann microcircuit (examples/microcircuit.py: NEST's PyNEST "
              f"model, {args.background} background), seed {args.seed}; {args.duration:g} "
              "ms timed after "
              f"{args.warmup:g} ms; {info['device']}, {info['nproc']} CPUs; torch "
              f"{info['torch']}, brian2 {info['brian2']}, Python {info['python']}. Each run "
              "in its own process. build: network objects and synapses; compile: snncc "
              "net.compile() (cold cache) / Brian2 Network.run(0*ms) (its cython cache kept "
              "between runs); bytes/synapse: RSS "
              "growth from before building to after compiling over synapses (an upper "
              "bound). Rates (Hz) over the timed run.")
    text = f"{header}\n\n{table(rows, mc.POPULATIONS, mc.PUBLISHED_RATES_HZ)}\n"
    print()
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    date = datetime.date.today().isoformat()
    payload = {
        "benchmark": "microcircuit", "date": date,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "config": {"scales": args.scales, "snncc_only_scales": args.snncc_only_scales,
                   "k_scale": args.k_scale, "duration_ms": args.duration,
                   "warmup_ms": args.warmup, "seed": args.seed,
                   "brian2_target": None if args.no_brian2 else args.brian2_target,
                   "threads": args.threads or torch.get_num_threads(), "quick": args.quick,
                   "background": args.background, "dt_ms": mc.DT_MS,
                   "memory": "bytes_per_synapse = (RSS after compile - RSS before build) / "
                             "synapses, in the run's own process; compiled_bytes_per_synapse "
                             "= CompiledNetwork.memory() (state + tables) / synapses"},
        "machine": info,
        "populations": list(mc.POPULATIONS),
        "published_rates_hz": mc.PUBLISHED_RATES_HZ.tolist(),
        "rows": rows,
    }
    stem = "microcircuit" + ("" if args.background == "dc" else f"_{args.background}")
    write_results(args.out, f"{stem}_{slug(info['device'])}_{date}", payload, text, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
