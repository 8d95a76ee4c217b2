"""Multi-step spiking layer benchmark (TARGETS.md): snncc versus eager PyTorch, its
``torch.compile``, and SpikingJelly.

The workload of ``TARGETS.md``: T = 32 steps of 4,194,304 neurons (``[T, 64, 65536]``),
fp32, three models written as equation strings for snncc:

* **lif**: LIF, tau = 2 with decay input (``h = v + (x - v)/2``), threshold 1, hard reset
  to 0, sigmoid surrogate alpha = 4 (SpikingJelly's ``LIFNode`` defaults but the
  surrogate);
* **alif**: the adaptive LIF ``h = v + (x - v)/2; s = H(h - (1 + 0.5 a)); v = h (1 - s);
  a = 0.951 a + s``;
* **izhikevich**: Izhikevich's regular-spiking cell (a = 0.02, b = 0.2, c = -65, d = 8),
  one forward-Euler step of 1 ms per time step, input current x in [0, 20).

For each model: snncc (``snncc.layer``, backend auto: Triton on CUDA, torch code on CPU),
the eager PyTorch loop a user would write (a surrogate ``autograd.Function``),
``torch.compile`` of that loop, and SpikingJelly 2.0 (``LIFNode(step_mode='m')`` and
``FlexSN`` with its Triton backend on CUDA; skipped with a note when ``spikingjelly`` is
not installed). Measured: forward without grad, forward + backward (``out.backward(g)``
with a fixed random ``g``), peak memory of forward + backward (CUDA), and the effective
bandwidth of each against the byte floor (forward: 8 B per neuron-step, the input read
and the spikes written; forward + backward: 16 + 8 k B, with the k state variables saved
once and read back) and a device-to-device copy ceiling measured in the same run. Every
implementation's spikes and input gradients are compared with the eager loop's.

    python benchmarks/layers.py                      # on a GPU: the TARGETS.md workload
    python benchmarks/layers.py --models lif --impls snncc,eager
    python benchmarks/layers.py --quick --out /tmp/layers   # CPU smoke run, seconds

Timing: ``triton.testing.do_bench`` (median) on CUDA; the median of ``--repeats`` runs
after a warm-up on the CPU. Writes ``layers_<device>_<date>.json`` and ``.md`` to
``benchmarks/results/`` (or ``--out``). An implementation that fails is recorded with
its error; the others go on.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, slug, write_results  # noqa: E402

import snncc  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FULL_T, FULL_BATCH, FULL_WIDTH = 32, 64, 65536  # 4,194,304 neurons
QUICK_T, QUICK_BATCH, QUICK_WIDTH = 8, 8, 4096  # 32,768 neurons
SAMPLE = 1 << 20  # spikes/gradients compared with the eager loop's (first elements)
ALPHA = 4.0

IMPLS = ("snncc", "eager", "compile", "spikingjelly")
IMPL_NAMES = {"snncc": "snncc", "eager": "eager PyTorch loop",
              "compile": "torch.compile of the loop", "spikingjelly": "SpikingJelly"}


# ------------------------------------------------------------------------ the surrogate
class SigmoidSpike(torch.autograd.Function):
    """Heaviside forward, sigmoid surrogate (alpha = 4) backward, as users write it."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        (x,) = ctx.saved_tensors
        sg = torch.sigmoid(ALPHA * x)
        return grad * ALPHA * sg * (1.0 - sg)


spike = SigmoidSpike.apply


# ------------------------------------------------------------------------- the models
def lif_loop(x: torch.Tensor) -> torch.Tensor:
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / 2.0
        s = spike(h - 1.0)
        v = h * (1.0 - s)
        out.append(s)
    return torch.stack(out)


def alif_loop(x: torch.Tensor) -> torch.Tensor:
    v = torch.zeros_like(x[0])
    a = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / 2.0
        s = spike(h - (1.0 + 0.5 * a))
        v = h * (1.0 - s)
        a = 0.951 * a + s
        out.append(s)
    return torch.stack(out)


def izhikevich_loop(x: torch.Tensor) -> torch.Tensor:
    v = torch.full_like(x[0], -65.0)
    u = torch.full_like(x[0], -13.0)
    out = []
    for t in range(x.shape[0]):
        h = v + (0.04 * v * v + 5.0 * v + 140.0 - u + x[t])
        u = u + 0.02 * (0.2 * v - u)
        s = spike(h - 30.0)
        v = h + s * (-65.0 - h)
        u = u + 8.0 * s
        out.append(s)
    return torch.stack(out)


@dataclass(frozen=True)
class Model:
    """One benchmark model: snncc's strings, the eager loop and how the input is drawn."""

    name: str
    equations: str
    threshold: str
    reset: str
    params: dict[str, float]
    loop: Callable[[torch.Tensor], torch.Tensor]
    input_scale: float  # x ~ U(0, input_scale)
    states: int  # state variables (k in the fwd+bwd byte floor)
    init: dict[str, float] = field(default_factory=dict)
    note: str = ""


MODELS: dict[str, Model] = {
    "lif": Model(
        "lif", "dv/dt = (x - v)/tau : 1", "v > 1", "v = 0", {"tau": 2.0}, lif_loop, 2.5, 1,
        note="snncc: dv/dt = (x - v)/tau, tau = 2, method='euler' (h = v + (x - v)/2 "
             "exactly; snncc's default 'exact' would decay by exp(-1/2) per step)"),
    "alif": Model(
        "alif", "dv/dt = (x - v)/tau : 1\nda/dt = -a/tau_a : 1", "v > 1 + beta*a",
        "v = 0; a += 1", {"tau": 2.0, "tau_a": 1 / 0.049, "beta": 0.5 / 0.951},
        alif_loop, 2.5, 2,
        note="snncc: dv/dt = (x - v)/tau, da/dt = -a/tau_a, threshold v > 1 + beta*a, "
             "reset v = 0; a += 1, euler, tau = 2, tau_a = 1/0.049 (a decays by 0.951 per "
             "step). Ordering: snncc decays a BEFORE the threshold test, the target's formula "
             "tests against the old a (1 + 0.5 a) and then sets a = 0.951 a + s; "
             "beta = 0.5/0.951 makes snncc's threshold 1 + beta*(0.951 a) equal to the "
             "target's, so both compute the same dynamics (up to fp32 rounding)"),
    "izhikevich": Model(
        "izhikevich", "dv/dt = 0.04*v**2 + 5*v + 140 - u + x : 1\ndu/dt = a*(b*v - u) : 1",
        "v > 30", "v = c; u += d", {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0},
        izhikevich_loop, 20.0, 2, init={"v": -65.0, "u": -13.0},
        note="Izhikevich 2003 regular spiking, unitless (mV, ms), forward Euler with "
             "dt = 1 per step (v and u from the old values), threshold v > 30, reset "
             "v = c; u += d, start v = -65, u = -13. Backpropagated through v**2, the "
             "gradient of a neuron that stays just below threshold grows by up to "
             "0.08 v + 6 per step, so a few elements are ill-conditioned in fp32: there "
             "the fp32 implementations disagree with each other (and with fp64) while "
             "snncc in float64 matches the eager loop in float64 to ~1e-8"),
}


# --------------------------------------------------------------------- implementations
def build_snncc(model: Model, device: torch.device) -> tuple[Callable, dict[str, Any]]:
    layer = snncc.layer(model.equations, threshold=model.threshold, reset=model.reset,
                        params=dict(model.params), init=dict(model.init) or None,
                        input="x", method="euler", surrogate="sigmoid", alpha=ALPHA,
                        backend="auto").to(device)
    return layer, {"backend": layer._backend_for(device), "plan": layer.step_ir.plan,
                   "compile_seconds": layer.compile_seconds}


def build_compile(model: Model, device: torch.device) -> tuple[Callable, dict[str, Any]]:
    return torch.compile(model.loop), {}


def build_spikingjelly(model: Model, device: torch.device) -> tuple[Callable, dict[str, Any]]:
    import spikingjelly
    from spikingjelly.activation_based import functional, neuron, surrogate

    backend = "triton" if device.type == "cuda" else "torch"
    sg = surrogate.Sigmoid(alpha=ALPHA)
    info: dict[str, Any] = {"version": getattr(spikingjelly, "__version__", "unknown"),
                            "backend": backend}
    if model.name == "lif":
        node = neuron.LIFNode(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                              surrogate_function=sg, detach_reset=False, step_mode="m",
                              backend=backend)
        info["module"] = "LIFNode(step_mode='m')"
    else:
        if model.name == "alif":
            def core(x: torch.Tensor, v: torch.Tensor, a: torch.Tensor) -> tuple:
                h = v + (x - v) / 2.0
                s = sg(h - (1.0 + 0.5 * a))
                return s, h * (1.0 - s), 0.951 * a + s
            init = (0.0, 0.0)
        else:
            def core(x: torch.Tensor, v: torch.Tensor, u: torch.Tensor) -> tuple:
                h = v + (0.04 * v * v + 5.0 * v + 140.0 - u + x)
                u2 = u + 0.02 * (0.2 * v - u)
                s = sg(h - 30.0)
                return s, h + s * (-65.0 - h), u2 + 8.0 * s
            init = (-65.0, -13.0)

        class Flex(neuron.FlexSN):
            @staticmethod
            def init_states(num_states: int, step_mode: str, *args: torch.Tensor) -> list:
                ref = args[0][0] if step_mode == "m" else args[0]
                return [torch.full_like(ref, c) for c in init]

        try:
            node = Flex(core=core, num_inputs=1, num_states=2, num_outputs=1,
                        step_mode="m", backend=backend)
        except TypeError:  # newer FlexSN infers the numbers of inputs and outputs
            node = Flex(core=core, num_states=2, step_mode="m", backend=backend)
        info["module"] = "FlexSN(step_mode='m')"
    node = node.to(device)

    def run(x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(node)
        return node(x)
    return run, info


def build(impl: str, model: Model, device: torch.device) -> tuple[Callable, dict[str, Any]]:
    if impl == "snncc":
        return build_snncc(model, device)
    if impl == "eager":
        return model.loop, {}
    if impl == "compile":
        return build_compile(model, device)
    return build_spikingjelly(model, device)


# ------------------------------------------------------------------------------ timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_ms(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Median milliseconds of ``fn``: do_bench on CUDA, a wall-clock median on the CPU."""
    if device.type == "cuda":
        from triton.testing import do_bench

        return float(do_bench(fn, warmup=25, rep=200, return_mode="median"))
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def copy_ceiling(device: torch.device, nbytes: int, repeats: int) -> dict[str, Any]:
    """GB/s of ``dst.copy_(src)`` (bytes read + written) for a tensor of ``nbytes``."""
    src = torch.rand(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    ms = bench_ms(lambda: dst.copy_(src), device, max(repeats, 5))
    return {"bytes": nbytes, "ms": ms, "gb_s": 2 * nbytes / (ms * 1e-3) / 1e9,
            "method": "triton.testing.do_bench of a device-to-device copy" if
            device.type == "cuda" else "median wall time of a CPU tensor copy (memcpy)"}


def _gb_s(nbytes: float, ms: float | None) -> float | None:
    return None if not ms else nbytes / (ms * 1e-3) / 1e9


def run_impl(impl: str, model: Model, x: torch.Tensor, gout: torch.Tensor,
             ref: dict[str, torch.Tensor] | None, device: torch.device, repeats: int
             ) -> dict[str, Any]:
    """Build, warm up, check against the eager reference, time forward and fwd+bwd."""
    t0 = time.perf_counter()
    fn, info = build(impl, model, device)
    sync(device)
    out: dict[str, Any] = {"build_s": time.perf_counter() - t0, **info}

    xg = x.detach().requires_grad_(True)

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return fn(x)

    def forward_backward() -> None:
        xg.grad = None
        fn(xg).backward(gout)

    t0 = time.perf_counter()
    s = forward()  # the first call (compiles for torch.compile, JITs Triton kernels)
    sync(device)
    out["first_forward_s"] = time.perf_counter() - t0
    spikes_sample = s.reshape(-1)[:SAMPLE].float().clone()
    out["spike_rate"] = float(s.float().mean())
    del s
    t0 = time.perf_counter()
    forward_backward()
    sync(device)
    out["first_forward_backward_s"] = time.perf_counter() - t0
    grad_sample = xg.grad.reshape(-1)[:SAMPLE].clone()
    if ref is not None:
        out["spike_mismatch"] = float((spikes_sample != ref["spikes"]).float().mean())
        g = ref["grad"]
        diff = (grad_sample - g).abs()
        out["grad_rel_err"] = float(diff.norm() / g.norm().clamp_min(1e-30))
        # elementwise: within 1e-3 relative (plus a small absolute floor), robust to the
        # few neurons whose gradients explode (see the izhikevich note)
        tol = 1e-3 * g.abs() + 1e-4 * g.abs().mean()
        out["grad_close"] = float((diff <= tol).float().mean())
    else:
        ref = {"spikes": spikes_sample, "grad": grad_sample}
    out["_ref"] = ref

    out["forward_ms"] = bench_ms(forward, device, repeats)
    out["forward_backward_ms"] = bench_ms(forward_backward, device, repeats)
    if device.type == "cuda":
        xg.grad = None
        gc.collect()
        torch.cuda.empty_cache()
        sync(device)
        out["baseline_bytes"] = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        forward_backward()
        sync(device)
        out["peak_bytes"] = torch.cuda.max_memory_allocated(device)
    else:
        out["baseline_bytes"] = out["peak_bytes"] = None
    xg.grad = None
    return out


# ------------------------------------------------------------------------------ output
def _ms(x: float | None) -> str:
    return "–" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def _gb(x: float | None) -> str:
    return "n/a" if x is None else f"{x / 1e9:.2f} GB"


def _bw(g: float | None, ceiling: float) -> str:
    if g is None:
        return "–"
    value = f"{g:.0f}" if g >= 10 else f"{g:.2g}"
    return f"{value} ({100 * g / ceiling:.0f}%)"


def table(rows: list[dict[str, Any]], ceiling: float) -> str:
    lines = ["| model | implementation | forward (ms) | fwd+bwd (ms) | peak memory fwd+bwd "
             "| forward GB/s (% of copy) | fwd+bwd GB/s (% of copy) | × eager fwd / fwd+bwd "
             "| spikes differing | grad: rel. L2 err, % of elements close |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = r["implementation"]
        if r["status"] != "ok":
            why = "skipped" if r["status"] == "skipped" else "error"
            lines.append(f"| {r['model']} | {name} | {why} | – | – | – | – | – | – | – |")
            continue
        sp = r.get("speedup_forward"), r.get("speedup_forward_backward")
        speed = "–" if sp[0] is None else f"{sp[0]:.1f}× / {sp[1]:.1f}×"
        mism = r.get("spike_mismatch")
        err = r.get("grad_rel_err")
        ref = "reference" if r["impl"] == "eager" else "–"
        grad = ref if err is None else f"{err:.2g}, {100 * r['grad_close']:.2f}%"
        lines.append(
            f"| {r['model']} | {name} | {_ms(r['forward_ms'])} | "
            f"{_ms(r['forward_backward_ms'])} | {_gb(r['peak_bytes'])} | "
            f"{_bw(r['forward_gb_s'], ceiling)} | {_bw(r['forward_backward_gb_s'], ceiling)} | "
            f"{speed} | "
            f"{ref if mism is None else f'{100 * mism:.3g}%'} | "
            f"{grad} |")
    return "\n".join(lines)


# -------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help=f"of {','.join(MODELS)}")
    ap.add_argument("--impls", default=None,
                    help=f"of {','.join(IMPLS)} (default: all; with --quick on a CPU all but "
                         "'compile', whose cold Inductor C++ build takes minutes)")
    ap.add_argument("--steps", type=int, default=None, help=f"T (default {FULL_T})")
    ap.add_argument("--batch", type=int, default=None, help=f"batch (default {FULL_BATCH})")
    ap.add_argument("--width", type=int, default=None,
                    help=f"neurons per sample (default {FULL_WIDTH})")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs on the CPU (median)")
    ap.add_argument("--copy-mib", type=int, default=None,
                    help="size of the copy-ceiling tensor (default 1024 on CUDA, 256 on the "
                         "CPU, 32 with --quick)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: T = {QUICK_T}, [{QUICK_BATCH}, {QUICK_WIDTH}] neurons")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = ap.parse_args(argv)
    q = args.quick
    args.steps = args.steps or (QUICK_T if q else FULL_T)
    args.batch = args.batch or (QUICK_BATCH if q else FULL_BATCH)
    args.width = args.width or (QUICK_WIDTH if q else FULL_WIDTH)
    args.device = torch.device(args.device)
    if args.copy_mib is None:
        args.copy_mib = 32 if q else (1024 if args.device.type == "cuda" else 256)
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in args.model_list if m not in MODELS]
    if bad:
        ap.error(f"unknown model(s) {', '.join(bad)}; choose from {', '.join(MODELS)}")
    args.skipped_note = None
    if args.impls is None:
        args.impl_list = list(IMPLS)
        if q and args.device.type == "cpu":
            args.impl_list.remove("compile")
            args.skipped_note = ("torch.compile not run (--quick on a CPU: a cold Inductor "
                                 "C++ build takes minutes); add --impls "
                                 f"{','.join(IMPLS)} to include it")
    else:
        args.impl_list = [i.strip() for i in args.impls.split(",") if i.strip()]
    bad = [i for i in args.impl_list if i not in IMPLS]
    if bad:
        ap.error(f"unknown implementation(s) {', '.join(bad)}; choose from {', '.join(IMPLS)}")
    if "eager" in args.impl_list:  # the reference comes first
        args.impl_list.remove("eager")
        args.impl_list.insert(0, "eager")
    if min(args.steps, args.batch, args.width, args.repeats, args.copy_mib) < 1:
        ap.error("--steps, --batch, --width, --repeats and --copy-mib must be >= 1")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be >= 1")
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


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip()[:500]}"


def _main(args: argparse.Namespace, argv: list[str] | None) -> int:
    device: torch.device = args.device
    info = machine_info(device, ("spikingjelly",))
    T, B, W = args.steps, args.batch, args.width
    neurons = B * W
    print(f"layer benchmark: T = {T}, {neurons:,} neurons ([{T}, {B}, {W}]) fp32; models "
          f"{', '.join(args.model_list)}; {info['device']} (torch {info['torch']}, triton "
          f"{info['triton']}, spikingjelly {info['spikingjelly'] or 'not installed'})",
          flush=True)
    ceiling = copy_ceiling(device, args.copy_mib << 20, args.repeats)
    print(f"copy ceiling: {ceiling['gb_s']:.1f} GB/s ({args.copy_mib} MiB)", flush=True)

    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    rows: list[dict[str, Any]] = []
    for mname in args.model_list:
        model = MODELS[mname]
        x = (torch.rand(T, B, W, generator=gen) * model.input_scale).to(device)
        gout = torch.randn(T, B, W, generator=gen).to(device)
        floor_fwd = 8 * T * neurons
        floor_fb = (16 + 8 * model.states) * T * neurons
        ref = None
        for impl in args.impl_list:
            row: dict[str, Any] = {"model": mname, "impl": impl,
                                   "implementation": IMPL_NAMES[impl],
                                   "floor_forward_bytes": floor_fwd,
                                   "floor_forward_backward_bytes": floor_fb}
            rows.append(row)
            if impl == "spikingjelly" and info["spikingjelly"] is None:
                row.update(status="skipped", error="spikingjelly is not installed "
                           "(pip install spikingjelly)")
                print(f"  {mname} {impl}: skipped (spikingjelly not installed)", flush=True)
                continue
            print(f"  {mname} {impl} ...", end=" ", flush=True)
            try:
                out = run_impl(impl, model, x, gout, ref, device, args.repeats)
                if ref is None and impl == "eager":
                    ref = out["_ref"]
                out.pop("_ref")
                row.update(out, status="ok")
                if impl == "snncc":
                    row["implementation"] = f"snncc ({out['backend']})"
                elif impl == "spikingjelly":
                    row["implementation"] = f"SpikingJelly {out['module']} ({out['backend']})"
                row["forward_gb_s"] = _gb_s(floor_fwd, row["forward_ms"])
                row["forward_backward_gb_s"] = _gb_s(floor_fb, row["forward_backward_ms"])
                print(f"forward {row['forward_ms']:.3f} ms, fwd+bwd "
                      f"{row['forward_backward_ms']:.3f} ms", flush=True)
            except Exception as e:  # noqa: BLE001 - record it and go on
                row.update(status="error", error=_error(e))
                print(f"failed: {row['error']}", flush=True)
            finally:
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        eager = next((r for r in rows if r["model"] == mname and r["impl"] == "eager"
                      and r["status"] == "ok"), None)
        for r in rows:
            if r["model"] == mname and r["status"] == "ok" and eager is not None:
                r["speedup_forward"] = eager["forward_ms"] / r["forward_ms"]
                r["speedup_forward_backward"] = (eager["forward_backward_ms"]
                                                 / r["forward_backward_ms"])
        del x, gout, ref

    header = (f"Multi-step spiking layers, T = {T}, {neurons:,} neurons ([{T}, {B}, {W}]), "
              f"fp32; {info['device']}; torch {info['torch']}, triton {info['triton']}, "
              f"SpikingJelly {info['spikingjelly'] or 'not installed'}, Python "
              f"{info['python']}. "
              + ("Median of triton.testing.do_bench. " if device.type == "cuda" else
                 f"Median wall time of {args.repeats} runs after a warm-up. ")
              + f"Copy ceiling ({ceiling['method']}, {args.copy_mib} MiB): "
              f"**{ceiling['gb_s']:.1f} GB/s**. GB/s = byte floor / time (forward 8 B per "
              "neuron-step; forward+backward 16 + 8k B, k = state variables). Spikes and "
              "input gradients are compared with the eager loop's on the first "
              f"{min(SAMPLE, T * neurons):,} elements (gradients: relative L2 error, and "
              "the share of elements within 1e-3 relative).")
    footer = [f"{m}: {MODELS[m].note}" for m in args.model_list]
    footer += [f"{r['model']} {r['implementation']}: snncc plan: {r['plan']}"
               for r in rows if r["impl"] == "snncc" and r["status"] == "ok"]
    if device.type != "cuda":
        footer.append("peak memory: n/a on the CPU (torch.cuda.max_memory_allocated on "
                      "CUDA, including the input and the output gradient)")
    if args.skipped_note:
        footer.append(args.skipped_note)
    footer += [f"{r['model']} {r['implementation']} {r['status']}: {r['error']}"
               for r in rows if r["status"] != "ok"]
    text = f"{header}\n\n{table(rows, ceiling['gb_s'])}\n\n" + "\n".join(
        f"- {x}" for x in footer) + "\n"
    print()
    print(text)

    args.out.mkdir(parents=True, exist_ok=True)
    date = datetime.date.today().isoformat()
    stem = f"layers_{slug(info['device'])}_{date}"
    payload = {
        "benchmark": "layers", "date": date,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "config": {"steps": T, "batch": B, "width": W, "neurons": neurons,
                   "dtype": "float32", "models": args.model_list,
                   "implementations": args.impl_list, "device": str(device),
                   "repeats": args.repeats, "seed": args.seed, "quick": args.quick,
                   "surrogate": f"sigmoid, alpha = {ALPHA:g}",
                   "models_detail": {m: MODELS[m].note for m in args.model_list},
                   "timing": "triton.testing.do_bench median (CUDA) or median wall time of "
                             "repeats runs after a warm-up (CPU); forward under no_grad; "
                             "forward_backward = fn(x).backward(g) with a fixed random g",
                   "byte_floor": "forward 8 B per neuron-step; forward+backward (16 + 8k) B "
                                 "per neuron-step, k = state variables of the model",
                   "note": args.skipped_note},
        "machine": info,
        "copy_ceiling": ceiling,
        "rows": rows,
    }
    write_results(args.out, stem, payload, text, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
