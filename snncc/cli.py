"""The ``snncc`` command line.

``snncc demo``   simulate Brian2's CUBA network, print timings and the generated code,
                 write a raster plot;
``snncc emit``   print the generated source of a library model or of the CUBA network;
``snncc bench``  a quick CPU timing of the CUBA network (the full comparison against
                 Brian2 is ``benchmarks/cpu_cuba.py`` in the source repository);
``snncc run``    simulate a network described in YAML/JSON (sweeps expanded), logging to
                 HDF5 and TensorBoard, with plots and a summary in a run directory.

Also available as ``python -m snncc``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from snncc.backends.base import step_code
from snncc.backends.registry import AUTO, lookup, names, reference
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

    backend = lookup(sim.backend_name)
    body = backend.excerpt(sim.source())
    shown = body[:_DEMO_CODE_LINES]
    where = f"; full source: {sim.source_path}" if sim.source_path else ""
    print(f"\nGenerated {backend.source_kind} (first {len(shown)} of {len(body)} lines{where}):")
    for line in shown:
        print(("    " + line).rstrip())
    if len(body) > len(shown):
        print("    ...")

    if not args.no_plot:
        from snncc.plotting import raster

        path = raster(h.spikes, out / "cuba_raster.png", duration=args.duration * 1e3,
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


# ---------------------------------------------------------------------------------- run
def _duration_arg(text: str) -> float:
    """``--duration``: seconds (``0.5``) or a quantity (``200*ms``)."""
    from snncc.io.config import parse_quantity
    from snncc.units import Dimension, Quantity

    try:
        secs = float(text)
    except ValueError:
        q = parse_quantity(text, "--duration")
        if not isinstance(q, Quantity) or q.dim != Dimension(s=1) or q.ndim:
            raise ParameterError(f"--duration must be a time such as 0.5 (seconds) or "
                                 f"200*ms, got {text!r}") from None
        secs = float(q.value)
    if not secs > 0:
        raise ParameterError(f"--duration must be > 0, got {text!r}")
    return secs


def _safe_name(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.+=-]", "_", name) or "run"


def _run_dir(out: Path) -> Path:
    """``out``, or ``out-1``, ``out-2``... if it exists already."""
    path, k = out, 1
    while path.exists():
        path, k = out.with_name(f"{out.name}-{k}"), k + 1
    return path


def _plots(net: Any, folder: Path, duration: float) -> list[Path]:
    from snncc.frontend.monitors import SpikeMonitor, StateMonitor
    from snncc.plotting import raster, rate_histogram, traces

    paths = []
    for m in net.objects:
        if isinstance(m, SpikeMonitor):
            n = m.stop - m.start
            rate = m.num_spikes / max(n, 1) / duration
            paths.append(raster(m, folder / f"{m.name}_raster.png", duration=duration * 1e3,
                                title=f"{m.name}: {n} neurons, {rate:.2f} Hz"))
            paths.append(rate_histogram(m, folder / f"{m.name}_rates.png",
                                        duration=duration * 1e3,
                                        title=f"{m.name}: firing rates"))
        elif isinstance(m, StateMonitor):
            for v in m.variables:
                paths.append(traces(m, v, folder / f"{m.name}_{v}.png",
                                    title=f"{m.name}: {v}"))
    return paths


def _run_one(cfg: dict[str, Any], settings: Any, net: Any, folder: Path, tb: Path | None,
             args: argparse.Namespace, label: str) -> dict[str, Any]:
    """Compile and run one expanded config; returns its summary."""
    from snncc.frontend.monitors import SpikeMonitor
    from snncc.io.config import dump_text, locate_error
    from snncc.io.log import ProgressBar, RunLogger, run_chunked

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        sim = net.compile(**settings.compile_options())
    except SnnccError as e:  # units are checked here: name the config path
        raise locate_error(net, e) from None
    compile_s = time.perf_counter() - t0
    attrs = {"name": settings.name, "config": dump_text(cfg, "json")}
    logger = RunLogger(sim, net, hdf5=folder / "data.h5" if settings.hdf5 else None,
                       tensorboard=tb if settings.tensorboard else None, attrs=attrs)
    bar = None if args.quiet else ProgressBar(sim.dt, label)
    t0 = time.perf_counter()
    try:
        chunks = run_chunked(sim, settings.duration, settings.chunk, logger=logger,
                             progress=bar)
    finally:
        logger.close()
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    B = settings.batch
    rates = {m.name: m.num_spikes / max(1, (m.stop - m.start) * B) / settings.duration
             for m in net.objects if isinstance(m, SpikeMonitor)}
    plots: list[str] = []
    if not args.no_plots:
        try:
            plots = [str(p) for p in _plots(net, folder, settings.duration)]
        except SnnccError as e:  # matplotlib missing: the run itself succeeded
            print(f"snncc run: plots skipped: {e}", file=sys.stderr)
    return {"name": settings.name, "sweep": settings.sweep, "folder": str(folder),
            "neurons": sum(p.size for p in sim.program.populations.values()),
            "synapses": sum(p.n_synapses for p in sim.program.projections.values()),
            "backend": sim.backend_name, "device": str(sim.device),
            "dtype": settings.dtype, "duration_s": settings.duration, "chunks": chunks,
            "compile_s": compile_s, "wall_s": wall, "rates_hz": rates,
            "hdf5": str(folder / "data.h5") if settings.hdf5 else None,
            "tensorboard": str(tb) if settings.tensorboard else None, "plots": plots}


def cmd_run(args: argparse.Namespace) -> int:
    """``snncc run CONFIG``: every run of the config (sweeps expanded) into a folder."""
    import json
    import shutil

    from snncc.io import config as cf
    from snncc.units import Dimension, Quantity

    src = Path(args.config)
    base = cf.read_config(src)
    runs = []
    for cfg in cf.expand_sweeps(base):
        run = dict(cfg.get("run") or {})
        for key in ("backend", "device", "dtype"):
            if getattr(args, key) is not None:
                run[key] = getattr(args, key)
        if args.duration is not None:
            run["duration"] = cf.format_quantity(Quantity(_duration_arg(args.duration),
                                                          Dimension(s=1)))
        cfg["run"] = run
        settings = cf.run_settings(cfg)
        if settings.duration is None:
            raise ParameterError(f"{src}: no run duration; add run: {{duration: '1*second'}} "
                                 "to the config or pass --duration")
        net = cf.load_config(cfg)  # every run is checked before the first one starts
        runs.append((cfg, settings, net))
    name = runs[0][1].name if len(runs) == 1 else str(
        (base.get("run") or {}).get("name") or (base.get("network") or {}).get("name")
        or "net")
    out = Path(args.out) if args.out else _run_dir(
        Path("runs") / f"{_safe_name(name)}-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    fmt = "json" if src.suffix.lower() == ".json" else "yaml"
    ours = {f"run.{fmt}", "summary.json"}  # files this command writes into the folder
    shutil.copyfile(src, out / (src.name if src.name not in ours else f"source-{src.name}"))
    copies = {}  # sidecar arrays, copied keeping their place relative to the config
    for f in cf.npz_files(base):
        try:
            dest = out / Path(f).relative_to(src.parent.resolve())
        except ValueError:
            dest = out / Path(f).name
        if Path(f).is_file() and not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
        copies[f] = dest
    if not args.quiet:
        what = f"{len(runs)} runs (sweep)" if len(runs) > 1 else "1 run"
        print(f"snncc run: {src} -> {out} ({what})")
    results: list[dict[str, Any]] = []
    used: set[str] = set()
    for k, (cfg, settings, net) in enumerate(runs):
        sub = _safe_name(settings.name)
        while sub in used:  # names that differ only in characters a folder cannot hold
            sub += "_"
        used.add(sub)
        folder = out if len(runs) == 1 else out / sub
        folder.mkdir(parents=True, exist_ok=True)
        rel = {f: str(Path(os.path.relpath(d, folder))) for f, d in copies.items()}
        (folder / f"run.{fmt}").write_text(cf.dump_text(cf.relocate_npz(cfg, rel), fmt))
        tb = out / "tb" / sub
        results.append(_run_one(cfg, settings, net, folder, tb, args,
                                f"[{k + 1}/{len(runs)}] {settings.name}"))
    (out / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsnncc run summary ({len(results)} run{'s' if len(results) > 1 else ''}, "
          f"results in {out}):")
    for r in results:
        rates = ", ".join(f"{m} {hz:.2f} Hz" for m, hz in r["rates_hz"].items()) or "-"
        print(f"  {r['name']}: {r['neurons']} neurons, {r['synapses']} synapses, "
              f"{r['duration_s']:g} s simulated in {r['wall_s']:.2f} s wall "
              f"(compile {r['compile_s']:.2f} s, {r['backend']} on {r['device']}); "
              f"rates: {rates}")
    if results and results[0]["tensorboard"]:
        print(f"  TensorBoard: tensorboard --logdir {out / 'tb'}")
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
    demo.add_argument("--backend", choices=[AUTO, *names()], default=AUTO,
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
    emit.add_argument("--backend", default=reference().name, choices=names())
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

    run = sub.add_parser("run", help="run a network described in YAML/JSON",
                         description="Load a YAML/JSON network description, expand its "
                         "sweeps, run each configuration in chunks streaming monitor data "
                         "to HDF5 and TensorBoard, and write plots and a summary into a "
                         "run directory (a copy of the config included).")
    run.add_argument("config", help="a .yaml, .yml or .json config")
    run.add_argument("--out", default=None,
                     help="run directory (default: runs/<name>-<YYYYmmdd-HHMMSS>)")
    run.add_argument("--backend", default=None, choices=[AUTO, *names()],
                     help="override run.backend")
    run.add_argument("--device", default=None, help="override run.device (cpu, cuda, auto)")
    run.add_argument("--dtype", default=None, choices=_DTYPES, help="override run.dtype")
    run.add_argument("--duration", default=None,
                     help="override run.duration: seconds (0.5) or a time (200*ms)")
    run.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bar; print only the summary")
    run.set_defaults(func=cmd_run)
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
