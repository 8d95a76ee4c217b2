"""The ``snncc`` command line.

``snncc demo``   simulate Brian2's CUBA network, print timings and the generated code,
                 write a raster plot;
``snncc emit``   print the generated source of a library model or of the CUBA network;
``snncc bench``  a quick CPU timing of the CUBA network (the full comparison against
                 Brian2 is ``benchmarks/cpu_cuba.py`` in the source repository).

Also available as ``python -m snncc``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from snncc.errors import ParameterError, SnnccError

_DTYPES = ("float32", "float64")
_DEMO_CODE_LINES = 30


# ------------------------------------------------------------------------------ helpers
def _torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[name]


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` if a GPU is usable, else ``cpu``; checks ``cuda`` is there."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"--device {device}: no CUDA GPU is available to torch "
                             f"({torch.__version__}); use --device cpu or auto")
    return device


def kernel_code(source: str) -> list[str]:
    """The generated Triton kernels of a source (from the first ``@triton.jit`` on)."""
    lines = source.splitlines()
    start = next((k for k, line in enumerate(lines) if line.startswith("@triton.jit")), 0)
    return lines[start:]


def step_code(source: str) -> list[str]:
    """The body of ``def step`` in a generated source (dedented), or all lines if the
    source has no step function."""
    lines = source.splitlines()
    start = next((k for k, line in enumerate(lines) if line.lstrip().startswith("def step(")),
                 None)
    if start is None:
        return lines
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = len(lines)
    for k in range(start + 1, len(lines)):
        line = lines[k]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            end = k
            break
    body = "\n".join(lines[start:end]).rstrip()
    return textwrap.dedent(body).splitlines()


def _emit_names() -> list[str]:
    from snncc.frontend import library

    return ["cuba", *[n for n in library.names() if n != "cuba"]]


# --------------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    import torch

    from snncc.examples import cuba_network

    device = resolve_device(args.device)
    if args.n < 2:
        raise ParameterError(f"--n must be >= 2, got {args.n}")
    if args.duration <= 0:
        raise ParameterError(f"--duration must be > 0 seconds, got {args.duration}")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)

    net, h = cuba_network(n=args.n, seed=args.seed)
    t0 = time.perf_counter()
    sim = net.compile(backend=args.backend, device=device, dtype=_torch_dtype(args.dtype))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(args.duration * 1e3)  # ms
    wall = time.perf_counter() - t0

    assert h.spikes is not None
    n_spikes = h.spikes.num_spikes
    rate = n_spikes / args.n / args.duration
    n_exc = int(0.8 * args.n)
    n_syn = sum(pr.n_synapses for pr in sim.program.projections.values())
    threads = f", {torch.get_num_threads()} threads" if device == "cpu" else ""
    print("snncc demo: Brian2's CUBA network (Vogels & Abbott 2005), library model 'cuba'")
    print(f"  {args.n} neurons ({n_exc} excitatory, {args.n - n_exc} inhibitory), "
          f"{n_syn} synapses, dt = {sim.dt * 1e3:g} ms, seed {args.seed}")
    print(f"  backend {sim.backend_name} on {device} ({args.dtype}{threads})")
    print(f"  compile time:                  {compile_s:.3f} s")
    print(f"  simulated {args.duration:g} s in wall time:    {wall:.3f} s")
    print(f"  seconds per simulated second:  {wall / args.duration:.3f}")
    print(f"  firing rate:                   {rate:.2f} Hz ({n_spikes} spikes)")

    body = step_code(sim.source()) if sim.backend_name == "torch" else kernel_code(
        sim.source())
    shown = body[:_DEMO_CODE_LINES]
    where = f"; full source: {sim.source_path}" if sim.source_path else ""
    what = "step code" if sim.backend_name == "torch" else "kernels"
    print(f"\nGenerated {what} (first {len(shown)} of {len(body)} lines{where}):")
    for line in shown:
        print(("    " + line).rstrip())
    if len(body) > len(shown):
        print("    ...")

    if not args.no_plot:
        from snncc.plotting import raster

        path = raster(h.spikes, out / "cuba_raster.png", duration=args.duration,
                      title=f"CUBA, {args.n} neurons, {rate:.2f} Hz (snncc, {device})")
        print(f"\nraster plot: {path.resolve()}")
    return 0


# --------------------------------------------------------------------------------- emit
def cmd_emit(args: argparse.Namespace) -> int:
    from snncc.examples import cuba_network, model_network

    name = args.name
    if name == "cuba":
        net, _ = cuba_network(n=args.n or 4000, seed=args.seed)
    elif name in _emit_names():
        net, _ = model_network(name, n=args.n or 10, seed=args.seed)
    else:
        raise ParameterError(f"unknown model or network {name!r}; choose one of: "
                             f"{', '.join(_emit_names())}")
    sim = net.compile(backend=args.backend, device="cpu", dtype=_torch_dtype(args.dtype))
    if args.step:
        print("\n".join(step_code(sim.source())))
    else:
        print(sim.source().rstrip())
    if args.describe:
        print()
        print("\n".join("# " + line for line in sim.describe().splitlines()))
    return 0


# -------------------------------------------------------------------------------- bench
def bench_snncc_cuba(n: int = 4000, duration: float = 1.0, repeats: int = 3,
                     dtype: str = "float32", device: str = "cpu", seed: int = 0,
                     warmup: float = 0.01) -> dict[str, Any]:
    """Time ``sim.run(duration)`` of the CUBA network (seconds) after a warm-up run.

    Each repeat restarts from the same initial state (``load_state_dict``), so every
    repeat simulates the same ``duration`` from t = 0. Returns the compile time, the
    wall times, their median and the firing rate (Hz) of each repeat.
    """
    from snncc.examples import cuba_network

    net, h = cuba_network(n=n, seed=seed)
    t0 = time.perf_counter()
    sim = net.compile(backend="torch", device=device, dtype=_torch_dtype(dtype))
    compile_s = time.perf_counter() - t0
    init = {k: v.clone() for k, v in sim.state_dict().items()}
    sim.run(warmup * 1e3)
    assert h.spikes is not None
    walls, rates = [], []
    for _ in range(repeats):
        sim.load_state_dict(init)
        before = h.spikes.num_spikes
        t0 = time.perf_counter()
        sim.run(duration * 1e3)
        walls.append(time.perf_counter() - t0)
        rates.append((h.spikes.num_spikes - before) / n / duration)
    return {"compile_s": compile_s, "wall_s": walls, "median_s": statistics.median(walls),
            "rate_hz": rates, "dtype": dtype, "device": device, "n": n,
            "duration_s": duration}


def _benchmark_script() -> Path | None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cpu_cuba.py"
    return path if path.exists() else None


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CUBA, {args.n} neurons, {args.duration:g} s simulated, snncc torch backend on "
          f"{device}" + (f" ({torch.get_num_threads()} threads)" if device == "cpu" else "")
          + f", median of {args.repeats}")
    print()
    print("| implementation | compile (s) | run (s), median | s per simulated s | rate (Hz) |")
    print("|---|---|---|---|---|")
    for dtype in args.dtype:
        r = bench_snncc_cuba(n=args.n, duration=args.duration, repeats=args.repeats,
                             dtype=dtype, device=device, seed=args.seed)
        print(f"| snncc torch {dtype} | {r['compile_s']:.2f} | {r['median_s']:.3f} | "
              f"{r['median_s'] / args.duration:.3f} | {statistics.median(r['rate_hz']):.2f} |")
    script = _benchmark_script()
    print()
    print("Full comparison against Brian2's numpy and cython targets on the same "
          "connectivity:")
    print(f"    python {script if script else 'benchmarks/cpu_cuba.py'}"
          + ("" if script else "   (in the snncc source repository)"))
    return 0


# --------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``snncc`` command."""
    from snncc import __version__

    parser = argparse.ArgumentParser(
        prog="snncc", description="snncc: a compiler for spiking neural networks.")
    parser.add_argument("--version", action="version", version=f"snncc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="simulate Brian2's CUBA network and plot its spikes",
                          description="Simulate Brian2's CUBA network (library model "
                          "'cuba', 80 synapses per neuron), print the firing rate, "
                          "compile and run times and the generated step code, and write "
                          "a raster plot.")
    demo.add_argument("--n", type=int, default=4000, help="number of neurons (4000)")
    demo.add_argument("--duration", type=float, default=1.0,
                      help="simulated time in seconds (1)")
    demo.add_argument("--device", default="auto",
                      help="auto (cuda if available, else cpu), cpu or cuda")
    demo.add_argument("--dtype", choices=_DTYPES, default="float32")
    demo.add_argument("--backend", choices=["auto", "torch", "triton"], default="auto",
                      help="auto (default): triton on a CUDA GPU, torch otherwise")
    demo.add_argument("--out", default=".", help="folder for the raster plot (.)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=0,
                      help="torch CPU threads (default: torch's choice)")
    demo.add_argument("--no-plot", action="store_true", help="do not write the raster plot")
    demo.set_defaults(func=cmd_demo)

    emit = sub.add_parser("emit", help="print the generated source of a model or network",
                          description="Print the generated source of a library model (a "
                          "small group driven by a constant input) or of the CUBA "
                          "network. Names: " + ", ".join(_emit_names()))
    emit.add_argument("name", metavar="MODEL_OR_NETWORK")
    emit.add_argument("--backend", default="torch", choices=["torch", "triton"])
    emit.add_argument("--n", type=int, default=0,
                      help="number of neurons (default 10 for a model, 4000 for cuba)")
    emit.add_argument("--dtype", choices=_DTYPES, default="float32")
    emit.add_argument("--seed", type=int, default=0)
    emit.add_argument("--step", action="store_true", help="print only the step function")
    emit.add_argument("--describe", action="store_true",
                      help="append the program summary (integrators, state) as comments")
    emit.set_defaults(func=cmd_emit)

    bench = sub.add_parser("bench", help="quick timing of the CUBA network",
                           description="Time the CUBA network with the torch backend (a "
                           "quick version of benchmarks/cpu_cuba.py, without Brian2).")
    bench.add_argument("--n", type=int, default=4000)
    bench.add_argument("--duration", type=float, default=1.0)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    bench.add_argument("--dtype", nargs="+", choices=_DTYPES, default=list(_DTYPES))
    bench.add_argument("--threads", type=int, default=0)
    bench.add_argument("--seed", type=int, default=0)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``snncc`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except SnnccError as e:
        print(f"snncc {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
