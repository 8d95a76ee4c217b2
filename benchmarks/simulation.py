"""Recurrent network simulation benchmark (issue 3): snncc versus eager PyTorch.

Brian2's CUBA network and the Vogels-Abbott COBA network (library models ``"cuba"`` and
``"coba"``; 80% excitatory, 20% inhibitory neurons, each pair connected with probability
80/N so every neuron keeps 80 synapses on average; dt = 0.1 ms) at several sizes. In one
run and on the SAME network (connectivity and initial membrane potentials drawn once with
numpy from ``--seed``) it times:

* snncc (``net.compile(backend=--backend)``, ``sim.run(duration)``), with its compile time
  cold (fresh ``SNNCC_CACHE_DIR`` and ``TRITON_CACHE_DIR``) and cached (a second compile
  of an identical network in the same process);
* eager PyTorch as a user would write it: a dense weight matrix and a matvec per step,
  the same step captured in a CUDA graph (CUDA only), and a torch CSR sparse matvec.
  Dense variants are skipped above ``--dense-max-neurons``.

Reported: wall seconds per simulated second (one run after a warm-up of a few steps, the
state restored to t = 0 in between; CUDA synchronized before reading clocks), the speedup
over eager dense (over torch CSR where dense is skipped), and each implementation's mean
firing rate, which shows that all of them simulate the same network. snncc's runs are
repeated with its inf/NaN check turned off (``sim.check_finite = False``, interleaved with
the checked runs); the footer gives the check's cost, both as the share of the run spent
in it (``sim.last_check_seconds``, insensitive to other load on the machine) and as the
difference of the median wall times.

    python benchmarks/simulation.py                          # all sizes, both models
    python benchmarks/simulation.py --sizes 4000 --models cuba --duration 200
    python benchmarks/simulation.py --quick --device cpu --backend torch --out /tmp/sim

Writes ``simulation_<device>_<date>.json`` and ``.md`` to ``benchmarks/results/`` (or
``--out``). An implementation that fails is recorded with its error; the others go on.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, slug, write_results  # noqa: E402

import snncc as sc
from snncc.examples import CUBA_SYNAPSES_PER_NEURON, CUBA_WE, CUBA_WI
from snncc.frontend import library
from snncc.units import Quantity, ms, mV, volt

RESULTS = Path(__file__).resolve().parent / "results"
DT = 1e-4  # seconds
EXC_FRACTION = 0.8
DEFAULT_SIZES = (4000, 16000, 64000, 256000)
QUICK_SIZE, QUICK_DURATION_MS = 1000, 50.0
GRAPH_BLOCK = 100  # steps per captured CUDA graph
_DENSE_PAIRS = 1 << 24  # draw connectivity with a dense mask up to this many pairs

IMPL_DENSE = "eager dense"
IMPL_GRAPH = "eager dense, CUDA graph"
IMPL_CSR = "eager CSR"


# -------------------------------------------------------------------------------- models
@dataclass(frozen=True)
class ModelSpec:
    """One benchmark network: a library model, its synaptic weights and extra drive."""

    name: str
    we: float | Quantity  # added to ge per excitatory spike
    wi: float | Quantity  # added to gi per inhibitory spike
    neuron_params: dict[str, Quantity]
    note: str


MODELS: dict[str, ModelSpec] = {
    "cuba": ModelSpec("cuba", CUBA_WE, CUBA_WI, {},
                      "Brian2's CUBA example: we = 1.62 mV, wi = -9 mV"),
    # ge, gi are in units of the leak conductance (10 nS): 6 nS -> 0.6, 67 nS -> 6.7.
    # I = 11 mV puts the effective rest El + I at -49 mV, as in Brian 1's COBA example
    # (El = -49 mV); with I = 0 the net stays silent from a start below threshold.
    "coba": ModelSpec("coba", 0.6, 6.7, {"I": 11 * mV},
                      "Vogels-Abbott COBA: we = 6 nS (ge += 0.6), wi = 67 nS (gi += 6.7), "
                      "I = 11 mV (El + I = -49 mV, as in Brian 1's COBA example)"),
}


def _si(x: float | Quantity) -> float:
    """The SI value of a number or a Quantity."""
    return float(getattr(x, "value", x))


def model_constants(spec: ModelSpec) -> dict[str, float]:
    """SI values of the library model's parameters (plus the spec's), and refractory."""
    model = library.get(spec.name)
    out = {k: _si(v) for k, v in model.params.items()}
    out.update({k: _si(v) for k, v in spec.neuron_params.items()})
    out["refractory"] = _si(model.refractory)
    return out


# -------------------------------------------------------------------------- connectivity
@dataclass
class Connectivity:
    """Pairs of Ce (``i`` in ``P[:n_exc]``) and Ci (``i`` in ``P[n_exc:]``), ``j`` in P,
    and the initial membrane potentials (volts)."""

    n: int
    n_exc: int
    pairs: dict[str, tuple[np.ndarray, np.ndarray]]
    v0: np.ndarray

    @property
    def synapses(self) -> int:
        return sum(int(i.size) for i, _ in self.pairs.values())


def bernoulli_pairs(n_pre: int, n_post: int, p: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Every pair independently with probability p, sorted by (i, j)."""
    if n_pre * n_post <= _DENSE_PAIRS:
        i, j = np.nonzero(rng.random((n_pre, n_post)) < p)
        return i.astype(np.int64), j.astype(np.int64)
    counts = rng.binomial(n_post, p, size=n_pre)
    i = np.repeat(np.arange(n_pre, dtype=np.int64), counts)
    keys = i * n_post + rng.integers(0, n_post, size=i.size)
    while True:  # redraw the (rare, p << 1) repeated targets of a row
        uniq, first = np.unique(keys, return_index=True)
        if uniq.size == keys.size:
            break
        dup = np.ones(keys.size, dtype=bool)
        dup[first] = False
        keys[dup] = i[dup] * n_post + rng.integers(0, n_post, size=int(dup.sum()))
    keys = np.sort(keys)
    return keys // n_post, keys % n_post


def draw_network(n: int, seed: int, vr: float, vt: float) -> Connectivity:
    """Connectivity (p = 80/N) and initial v uniform in [Vr, Vt), from ``seed``."""
    rng = np.random.default_rng(seed)
    n_exc = int(EXC_FRACTION * n)
    p = min(1.0, CUBA_SYNAPSES_PER_NEURON / n)
    pairs = {"Ce": bernoulli_pairs(n_exc, n, p, rng),
             "Ci": bernoulli_pairs(n - n_exc, n, p, rng)}
    v0 = vr + rng.random(n) * (vt - vr)
    return Connectivity(n, n_exc, pairs, v0)


# --------------------------------------------------------------------------------- snncc
def build_snncc(spec: ModelSpec, conn: Connectivity, seed: int
                ) -> tuple[sc.Network, sc.SpikeMonitor]:
    """The network in snncc, with the explicit connectivity and initial v."""
    net = sc.Network(dt=DT * 1e3 * ms, seed=seed, name=spec.name)
    with net:
        P = sc.NeuronGroup(conn.n, model=spec.name, params=dict(spec.neuron_params),
                           init={"v": conn.v0 * volt}, name="P")
        ie, je = conn.pairs["Ce"]
        ii, ji = conn.pairs["Ci"]
        sc.Connection(P[:conn.n_exc], P, i=ie, j=je, on_pre="ge += we",
                      params={"we": spec.we}, name="Ce")
        sc.Connection(P[conn.n_exc:], P, i=ii, j=ji, on_pre="gi += wi",
                      params={"wi": spec.wi}, name="Ci")
        spikes = sc.SpikeMonitor(P, name="spikes")
    return net, spikes


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


_first_compile = [True]  # the first compile of the process also warms in-memory caches


def run_snncc(spec: ModelSpec, conn: Connectivity, backend: str, device: torch.device,
              steps: int, warmup_steps: int, repeats: int, seed: int) -> dict[str, Any]:
    """Compile cold and cached, warm up, then time ``run(steps * dt)``."""
    first_in_process, _first_compile[0] = _first_compile[0], False
    saved = {k: os.environ.get(k) for k in ("SNNCC_CACHE_DIR", "TRITON_CACHE_DIR")}
    with tempfile.TemporaryDirectory(prefix="snncc_bench_") as cache:
        os.environ["SNNCC_CACHE_DIR"] = str(Path(cache) / "snncc")
        os.environ["TRITON_CACHE_DIR"] = str(Path(cache) / "triton")
        try:
            net, _ = build_snncc(spec, conn, seed)
            t0 = time.perf_counter()
            cold_sim = net.compile(backend=backend, device=str(device))
            _sync(device)
            cold = time.perf_counter() - t0
            del cold_sim
            net, spikes = build_snncc(spec, conn, seed)
            t0 = time.perf_counter()
            sim = net.compile(backend=backend, device=str(device))
            _sync(device)
            cached = time.perf_counter() - t0
            init = {k: v.clone() for k, v in sim.state_dict().items()}
            t0 = time.perf_counter()
            sim.run(warmup_steps * DT * 1e3)
            _sync(device)
            first = time.perf_counter() - t0
            walls, loops, rates, unchecked, checks = [], [], [], [], []
            for r in range(repeats):
                # with the inf/NaN check (the default) and without it, in turns: its cost
                for check in ((True, False) if r % 2 == 0 else (False, True)):
                    sim.check_finite = check
                    sim.load_state_dict(init)  # back to t = 0; the monitor forgets the rest
                    _sync(device)
                    t0 = time.perf_counter()
                    sim.run(steps * DT * 1e3)
                    _sync(device)
                    (walls if check else unchecked).append(time.perf_counter() - t0)
                    if check:
                        loops.append(sim.last_run_seconds)
                        checks.append(sim.last_check_seconds / sim.last_run_seconds)
                        rates.append(spikes.num_spikes / conn.n / (steps * DT))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return {"wall_s": walls, "loop_s": loops, "rates_hz": rates,
            "wall_unchecked_s": unchecked, "finite_check_share": statistics.median(checks),
            "finite_check_cost": statistics.median(walls) / statistics.median(unchecked) - 1,
            "compile_cold_s": cold, "compile_cached_s": cached,
            "compile_cold_first_in_process": first_in_process,
            "first_run_s": first, "first_run_steps": warmup_steps,
            "compile_seconds_reported": sim.compile_seconds}


# --------------------------------------------------------------------------------- eager
class EagerNet:
    """The network in eager PyTorch, as a user would write it.

    State v, ge, gi (float32), lastspike and the step counter live on the device (no
    host synchronisation per step, so the step can be captured in a CUDA graph). Per step,
    in Brian2's and snncc's order: integrate (CUBA exactly, with the matrix exponential
    of the linear system; COBA by exponential Euler, conductances held over the step),
    keep v during the refractory period, threshold, ``ge += We @ s_exc`` and
    ``gi += Wi @ s_inh``, reset, record lastspike.
    """

    def __init__(self, spec: ModelSpec, conn: Connectivity, device: torch.device,
                 sparse: bool) -> None:
        c = model_constants(spec)
        self.model = spec.name
        self.n, self.n_exc = conn.n, conn.n_exc
        f32 = {"dtype": torch.float32, "device": device}
        self.v = torch.tensor(conn.v0, **f32)
        self.ge = torch.zeros(conn.n, **f32)
        self.gi = torch.zeros(conn.n, **f32)
        self.lastspike = torch.full((conn.n,), -(1 << 40), dtype=torch.int64, device=device)
        self.t = torch.zeros((), dtype=torch.int64, device=device)
        self.count = torch.zeros((), dtype=torch.int64, device=device)
        self.ref_steps = int(round(c["refractory"] / DT))
        self.vt, self.vr = c["Vt"], c["Vr"]
        self.decay_e = float(np.exp(-DT / c["taue"]))
        self.decay_i = float(np.exp(-DT / c["taui"]))
        if spec.name == "cuba":
            # exact propagator of d(v, ge, gi, 1)/dt = A (v, ge, gi, 1)
            a = torch.zeros(4, 4, dtype=torch.float64)
            a[0, :] = torch.tensor([-1.0, 1.0, 1.0, c["El"]], dtype=torch.float64) / c["taum"]
            a[1, 1], a[2, 2] = -1.0 / c["taue"], -1.0 / c["taui"]
            m = torch.linalg.matrix_exp(a * DT)[0].tolist()
            self.cv, self.ce, self.ci, self.c1 = m
        else:
            self.ee, self.ei = c["Ee"], c["Ei"]
            self.rest = c["El"] + c["I"]
            self.dt_taum = DT / c["taum"]
        we, wi = _si(spec.we), _si(spec.wi)
        self.We = self._weights(conn.pairs["Ce"], conn.n_exc, we, device, sparse)
        self.Wi = self._weights(conn.pairs["Ci"], conn.n - conn.n_exc, wi, device, sparse)

    def _weights(self, pairs: tuple[np.ndarray, np.ndarray], n_pre: int, w: float,
                 device: torch.device, sparse: bool) -> torch.Tensor:
        """[n_post, n_pre] weights: dense, or CSR (rows = postsynaptic neurons)."""
        i, j = pairs
        if not sparse:
            W = torch.zeros(self.n, n_pre, dtype=torch.float32, device=device)
            idx = (torch.as_tensor(j, device=device), torch.as_tensor(i, device=device))
            W.index_put_(idx, torch.full((i.size,), w, dtype=torch.float32, device=device),
                         accumulate=True)
            return W
        order = np.lexsort((i, j))  # by row j, then column i (pairs are distinct)
        crow = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(j, minlength=self.n), out=crow[1:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is beta"
            return torch.sparse_csr_tensor(
                torch.as_tensor(crow), torch.as_tensor(i[order]),
                torch.full((i.size,), w, dtype=torch.float32), size=(self.n, n_pre)
            ).to(device)

    def state(self) -> list[torch.Tensor]:
        return [self.v, self.ge, self.gi, self.lastspike, self.t, self.count]

    def snapshot(self) -> list[torch.Tensor]:
        return [x.clone() for x in self.state()]

    def restore(self, snap: list[torch.Tensor]) -> None:
        """In place, so a captured CUDA graph keeps seeing the same tensors."""
        for x, y in zip(self.state(), snap):
            x.copy_(y)

    def step(self) -> None:
        v, ge, gi = self.v, self.ge, self.gi
        notref = self.lastspike <= self.t - self.ref_steps
        if self.model == "cuba":
            v_new = self.cv * v + self.ce * ge + self.ci * gi + self.c1
        else:
            g = 1.0 + ge + gi
            v_inf = (ge * self.ee + gi * self.ei + self.rest) / g
            v_new = v_inf + (v - v_inf) * torch.exp(-self.dt_taum * g)
        torch.where(notref, v_new, v, out=v)
        ge.mul_(self.decay_e)
        gi.mul_(self.decay_i)
        spk = (v > self.vt) & notref
        s = spk.to(torch.float32)
        ge.add_(self.We @ s[:self.n_exc])
        gi.add_(self.Wi @ s[self.n_exc:])
        v.masked_fill_(spk, self.vr)
        torch.where(spk, self.t, self.lastspike, out=self.lastspike)
        self.count.add_(spk.sum())
        self.t.add_(1)


def run_eager(spec: ModelSpec, conn: Connectivity, device: torch.device, kind: str,
              steps: int, warmup_steps: int, repeats: int) -> dict[str, Any]:
    """Build the eager network, warm up, then time ``steps`` steps."""
    t0 = time.perf_counter()
    net = EagerNet(spec, conn, device, sparse=kind == IMPL_CSR)
    _sync(device)
    setup = time.perf_counter() - t0
    init = net.snapshot()
    advance: Callable[[int], None]
    with torch.no_grad():
        if kind == IMPL_GRAPH:
            advance = _graph_runner(net, device, warmup_steps)
        else:
            def advance(k: int) -> None:
                for _ in range(k):
                    net.step()
            advance(warmup_steps)
        _sync(device)
        walls, rates = [], []
        for _ in range(repeats):
            net.restore(init)
            _sync(device)
            t0 = time.perf_counter()
            advance(steps)
            _sync(device)
            walls.append(time.perf_counter() - t0)
            rates.append(int(net.count) / conn.n / (steps * DT))
    return {"wall_s": walls, "rates_hz": rates, "setup_s": setup}


def _graph_runner(net: EagerNet, device: torch.device, warmup_steps: int
                  ) -> Callable[[int], None]:
    """Capture GRAPH_BLOCK steps in a CUDA graph; the runner replays it (and steps the
    remainder eagerly)."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(max(warmup_steps, 3)):
            net.step()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(GRAPH_BLOCK):
            net.step()
    graph.replay()  # the first replay uploads the graph

    def advance(k: int) -> None:
        for _ in range(k // GRAPH_BLOCK):
            graph.replay()
        for _ in range(k % GRAPH_BLOCK):
            net.step()
    return advance


# ---------------------------------------------------------------------------------- main
def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip()[:500]}"


def _finish(row: dict[str, Any], out: dict[str, Any], duration_s: float) -> None:
    row.update(out)
    row["status"] = "ok"
    row["median_wall_s"] = statistics.median(out["wall_s"])
    row["s_per_sim_s"] = row["median_wall_s"] / duration_s
    row["rate_hz"] = statistics.median(out["rates_hz"])


def speedups(rows: list[dict[str, Any]]) -> None:
    """Speedup over eager dense of the same model and size (or eager CSR without it)."""
    for r in rows:
        same = {x["implementation"]: x for x in rows
                if x["model"] == r["model"] and x["n"] == r["n"] and x["status"] == "ok"}
        ref = same.get(IMPL_DENSE) or same.get(IMPL_CSR)
        r["speedup_vs"] = ref["implementation"] if ref else None
        r["speedup"] = (ref["s_per_sim_s"] / r["s_per_sim_s"]
                        if ref and r["status"] == "ok" else None)


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| model | neurons | implementation | s per simulated s | speedup | rate (Hz) "
             "| compile cold (s) | compile cached (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] == "ok":
            speed = "–" if r["speedup"] is None else f"{r['speedup']:.2f}x"
            if r["speedup"] is not None and r["speedup_vs"] == IMPL_CSR:
                speed += " vs CSR"
            cells = [_num(r["s_per_sim_s"], ".3f"), speed, _num(r["rate_hz"], ".2f")]
        else:
            cells = ["–" if r["status"] == "skipped" else "error", "–", "–"]
        cells += [_num(r.get("compile_cold_s"), ".2f"), _num(r.get("compile_cached_s"), ".2f")]
        lines.append(f"| {r['model']} | {r['n']:,} | {r['implementation']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def rate_agreement(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and size: the largest relative deviation of a rate from their mean."""
    out = []
    for key in dict.fromkeys((r["model"], r["n"]) for r in rows):
        rates = [r["rate_hz"] for r in rows
                 if (r["model"], r["n"]) == key and r["status"] == "ok"]
        if not rates:
            continue
        mean = float(np.mean(rates))
        spread = max(abs(x - mean) / mean for x in rates) if mean > 0 else 0.0
        out.append({"model": key[0], "n": key[1], "mean_rate_hz": mean, "spread": spread})
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                    help="neuron counts, comma-separated")
    ap.add_argument("--models", default="cuba,coba", help=f"of {','.join(MODELS)}")
    ap.add_argument("--duration", type=float, default=1000.0, help="ms simulated (1000)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--backend", default=None,
                    help="snncc backend (default: triton on CUDA, torch on CPU)")
    ap.add_argument("--dense-max-neurons", type=int, default=16000,
                    help="skip the dense variants above this many neurons (N*N*4 bytes)")
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=1, help="timed runs (median shown)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads for this run (default: torch's)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: N = {QUICK_SIZE}, {QUICK_DURATION_MS:g} ms")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.duration = str(QUICK_SIZE), QUICK_DURATION_MS
    args.size_list = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.model_list if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if any(n < 10 for n in args.size_list):
        ap.error("sizes must be at least 10 neurons")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.duration < DT * 1e3 or args.repeats < 1 or args.warmup_steps < 0:
        ap.error("need --duration >= 0.1 (ms), --repeats >= 1, --warmup-steps >= 0")
    args.device = torch.device(args.device)
    if args.backend is None:
        args.backend = "triton" if args.device.type == "cuda" else "torch"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _main(args, argv)
    finally:
        torch.set_num_threads(threads)


def _main(args: argparse.Namespace, argv: list[str] | None) -> int:
    device: torch.device = args.device
    try:  # through snncc first: it picks Triton's interpreter where there is no CUDA
        from snncc.kernels import import_triton

        import_triton()
    except ImportError:
        pass
    info = machine_info(device)
    steps = int(round(args.duration * 1e-3 / DT))
    duration_s = steps * DT
    impls = ["snncc", IMPL_DENSE] + ([IMPL_GRAPH] if device.type == "cuda" else []) \
        + [IMPL_CSR]
    print(f"simulation benchmark: {', '.join(args.model_list)} at N = "
          f"{', '.join(map(str, args.size_list))}; {duration_s * 1e3:g} ms simulated; "
          f"{info['device']} (torch {info['torch']}, triton {info['triton']}); "
          f"snncc backend {args.backend}", flush=True)

    rows: list[dict[str, Any]] = []
    for n in args.size_list:
        for model in args.model_list:
            spec = MODELS[model]
            c = model_constants(spec)
            t0 = time.perf_counter()
            conn = draw_network(n, args.seed, c["Vr"], c["Vt"])
            draw_s = time.perf_counter() - t0
            for impl in impls:
                name = f"snncc ({args.backend})" if impl == "snncc" else impl
                row: dict[str, Any] = {"model": model, "n": n, "implementation": name,
                                       "synapses": conn.synapses, "connectivity_s": draw_s}
                rows.append(row)
                if impl in (IMPL_DENSE, IMPL_GRAPH) and n > args.dense_max_neurons:
                    row.update(status="skipped", error=f"dense skipped: N > "
                               f"--dense-max-neurons={args.dense_max_neurons}")
                    continue
                print(f"  {model} N={n} {name} ...", end=" ", flush=True)
                try:
                    if impl == "snncc":
                        out = run_snncc(spec, conn, args.backend, device, steps,
                                        args.warmup_steps, args.repeats, args.seed)
                    else:
                        out = run_eager(spec, conn, device, impl, steps, args.warmup_steps,
                                        args.repeats)
                    _finish(row, out, duration_s)
                    print(f"{row['s_per_sim_s']:.3f} s/s, {row['rate_hz']:.2f} Hz",
                          flush=True)
                except Exception as e:  # noqa: BLE001 - record it and go on
                    row.update(status="error", error=_error(e))
                    print(f"failed: {row['error']}", flush=True)
                finally:
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
    speedups(rows)
    agreement = rate_agreement(rows)

    header = (f"Recurrent network simulation, {duration_s * 1e3:g} ms simulated, dt 0.1 ms, "
              f"80 synapses per neuron (p = 80/N), seed {args.seed}; {info['device']}; torch "
              f"{info['torch']}, triton {info['triton']}, Python {info['python']}. Wall "
              f"seconds per simulated second after a {args.warmup_steps}-step warm-up "
              f"(median of {args.repeats}); speedup over eager dense (over eager CSR where "
              "dense is skipped, '–'); compile: snncc's net.compile(), cold (empty caches) "
              "and cached (identical network, same process).")
    footer = [f"{a['model']} N={a['n']:,}: rates agree within {a['spread'] * 100:.1f}% "
              f"(mean {a['mean_rate_hz']:.2f} Hz)" for a in agreement]
    footer += [f"{r['model']} N={r['n']:,} {r['implementation']}: the inf/NaN check (on by "
               f"default, once per chunk of steps) takes {r['finite_check_share']:.2%} of the "
               f"run (sim.last_check_seconds); wall time with it versus without "
               f"(sim.check_finite = False): {r['finite_check_cost']:+.1%} (medians of "
               f"{args.repeats} runs each, interleaved)"
               for r in rows if r["status"] == "ok" and "finite_check_cost" in r]
    footer += [f"{spec.name}: {spec.note}" for spec in (MODELS[m] for m in args.model_list)]
    footer += [f"{r['model']} N={r['n']:,} {r['implementation']} failed: {r['error']}"
               for r in rows if r["status"] == "error"]
    text = f"{header}\n\n{table(rows)}\n\n" + "\n".join(f"- {x}" for x in footer) + "\n"
    print()
    print(text)

    args.out.mkdir(parents=True, exist_ok=True)
    date = datetime.date.today().isoformat()
    stem = f"simulation_{slug(info['device'])}_{date}"
    payload = {
        "benchmark": "simulation", "date": date,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "config": {"sizes": args.size_list, "models": args.model_list,
                   "duration_s": duration_s, "steps": steps, "dt_s": DT,
                   "device": str(device), "backend": args.backend, "seed": args.seed,
                   "warmup_steps": args.warmup_steps, "repeats": args.repeats,
                   "dense_max_neurons": args.dense_max_neurons, "quick": args.quick,
                   "synapses_per_neuron": CUBA_SYNAPSES_PER_NEURON,
                   "models_detail": {m: MODELS[m].note for m in args.model_list},
                   "timing": "wall time of run(duration) after a warm-up of warmup_steps "
                             "steps; state restored to t=0 before each timed run; CUDA "
                             "synchronized before reading the clock; snncc also without "
                             "its inf/NaN check (wall_unchecked_s, finite_check_cost)"},
        "machine": info,
        "rows": rows,
        "rate_agreement": agreement,
    }
    write_results(args.out, stem, payload, text, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
