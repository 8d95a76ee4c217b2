"""The generated Triton kernels compile for a GPU (sm_90), without a GPU.

A subprocess (this file run as a script, Triton in compiled mode: ``TRITON_INTERPRET=0``)
builds small networks and layers that use every Triton template (neurons, record, reset,
events, dense spike-matmul, Poisson, spike generator, clock-driven synapses, Poisson
input, layer forward and backward in float32 and float64), every random-number path
(``rand``, ``randn``, ``xi`` noise, Poisson, both draws of a Poisson input) and every
kernel of ``snncc.kernels``, and runs each for one step on the CPU. A stand-in Triton
driver reports an sm_90 GPU, and each kernel launch compiles the kernel through Triton's
own JIT path instead of running it
(``JITFunction.run(..., warmup=True)``): the argument types and specialization, the
constexprs (``DT``, ``BLOCK``, ``BLOCK_F``) and ``num_warps`` are exactly those the
runtime passes on a GPU (launch sizes: :mod:`snncc.backends.triton.launch` and
:func:`snncc.backends.triton.layer.launch_config` choose the GPU sizes whenever the
interpreter is off; a CPU device counts as one multiprocessor, so layers get their
largest block). ptxas's log (``TRITON_DUMP_PTXAS_LOG``) gives the registers and spills
of each kernel.

A float32 kernel that spills registers fails the test; float64 spills are printed.
To check another Triton, put it first on the path: ``PYTHONPATH=/path/to/triton36 python
-m pytest tests/test_triton_aot.py`` (or run this file: ``python tests/test_triton_aot.py``
prints the table).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("triton")
pytestmark = pytest.mark.slow  # about 40 compiles: 40 s of CPU

# ---------------------------------------------------------------------------------------
# The cases: each builds and runs one small network or layer (in the subprocess)
# ---------------------------------------------------------------------------------------

#: what each case must compile: kernel kinds (see _kind) and random draws (_r.<draw>)
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "network": ({"neurons", "reset", "events", "dense", "poisson", "generator", "synapses",
                 "input", "compact_kernel"}, {"uniform", "normal", "bernoulli"}),
    "network_layered": ({"record", "neurons", "events"}, set()),
    "network_f64": ({"neurons", "events", "dense", "poisson", "generator", "input"},
                    {"bernoulli", "uniform", "normal"}),
    "layer_hh_f32": ({"forward", "backward"}, set()),
    "layer_hh_f64": ({"forward", "backward"}, set()),
    "layer_coba_f32": ({"forward", "backward"}, set()),
    "layer_coba_f64": ({"forward", "backward"}, set()),
    "kernels": ({"bernoulli_kernel", "compact_kernel"}, set()),
}


def _cases() -> dict[str, Callable[[], None]]:
    """Case name -> a function that builds and runs it (imports snncc lazily: the
    subprocess sets Triton up first). Populations of 300 neurons and rows of about 60
    synapses give every kernel its largest GPU tile."""
    import numpy as np
    import torch

    import snncc as sc
    from snncc import learning
    from snncc.units import Hz, ms, mV

    dt = 0.1 * ms
    # every function of snncc.kernels.smath
    smath = sc.NeuronModel(
        """dv/dt = (tanh(v) + sinh(v)/cosh(1 + v) + tan(0.1*v) + arctan(v) + arcsin(0.5*u)
                + arccos(0.5*u) + exprel(v) + expm1(0.1*v) + log1p(u*u) + sign(v)
                + (u % 0.3) + abs(v)**1.5 - v)/tau : 1
        du/dt = -u/tau : 1""",
        threshold="v > 1", reset="v = 0", params={"tau": 10 * ms}, method="euler",
        name="smath")
    # every random draw of a neuron: xi (normal), rand (uniform), randn (normal)
    noisy = sc.NeuronModel("dv/dt = -v/tau + sigma*xi/sqrt(tau) : 1",
                           threshold="v > 0.2 + 0.1*rand()", reset="v = 0.01*randn()",
                           params={"tau": 10 * ms, "sigma": 0.5}, name="noisy")
    effect = "ge += w*mV"

    def network(dtype: torch.dtype) -> None:
        """Every template but the layered schedule's record kernel (float64: the kernels
        with floating-point work)."""
        full = dtype == torch.float32
        net = sc.Network(dt=dt, seed=0)
        with net:
            inp = sc.SpikeGeneratorGroup(300, np.arange(300), np.zeros(300) * ms,
                                         name="inp")  # 300 spikes in one step: 64 a tile
            Q = sc.PoissonGroup(300, rates="(40 + 120*i/N)*Hz", name="Q")
            P = sc.NeuronGroup(300, "cuba", name="P")
            H = sc.NeuronGroup(300, "hh", name="H")
            sc.NeuronGroup(300, smath, name="S")
            sc.Connection(inp, H, on_pre="v_post += w*mV", weight="0.4 + 0.3*rand()",
                          name="dense")  # all pairs: a spike-matmul
            sc.Connection(Q, P, model=learning.triplet_stdp(on_pre_effect=effect), p=0.2,
                          weight="0.5*rand()", name="triplet")
            # Poisson inputs: exact (inversion loop) and normal approximation
            sc.PoissonInput(P, "ge", 1600, 8 * Hz, 0.1 * mV, name="bg")
            sc.PoissonInput(H, "v", 100000, 10 * Hz, 0.001 * mV, name="bulk")
            if full:
                sc.Connection(Q, P, model=learning.reward_stdp(on_pre_effect=effect),
                              p=0.2, weight="0.5*rand()", name="reward")  # clock-driven
                sc.Connection(P, P, on_pre="ge += 1.6*mV", p=0.2, name="events")
                G = sc.NeuronGroup(300, "lif", params={"I": 20 * mV}, name="G")
                # the synapses change what the reset sets: the reset runs after them
                sc.Connection(G, G, on_pre="v_post += 0.8*mV", p=0.2, name="rec",
                              delay="floor(3*rand())*0.1*ms")
                N = sc.NeuronGroup(300, noisy, name="N")
                sc.Connection(N, N, model=sc.SynapseModel("w : 1",
                                                          on_pre="v_post += w*rand()"),
                              p=0.2, weight=0.01, name="draw")
                sc.SpikeMonitor(P)
                sc.StateMonitor(P, "v", record=[0, 1])
        net.compile(backend="triton", device="cpu", dtype=dtype).run(dt)

    def layered() -> None:
        net = sc.Network(dt=dt, seed=0, schedule="layered")
        with net:
            A = sc.NeuronGroup(300, "lif", params={"I": 20 * mV}, name="A")
            B = sc.NeuronGroup(300, "lif", name="B")
            sc.Connection(A, B, on_pre="v_post += 1*mV", p=0.2, name="AB")
            sc.StateMonitor(B, "v", record=[0, 1])  # B's record kernel runs first
        net.compile(backend="triton", device="cpu").run(dt)

    def layer(model: str, dtype: torch.dtype, **kw: object) -> Callable[[], None]:
        def case() -> None:
            L = sc.layer(model, backend="triton", **kw)
            x = torch.rand((3, 2, 2048), dtype=dtype, requires_grad=True)
            spikes, final = L.run(x)
            (spikes.sum() + sum(v.sum() for v in final.values())).backward()
        return case

    def kernels() -> None:
        from snncc.kernels import rng
        from snncc.kernels.spikes import compact

        p = torch.full((4096,), 0.1)
        out = torch.empty(4096, dtype=torch.int8)
        rng.bernoulli_kernel[(4,)](out, p, 7, 1, 0, 4096, BLOCK=1024)
        compact(torch.zeros(5000, dtype=torch.int8))

    return {
        "network": lambda: network(torch.float32),
        "network_layered": layered,
        "network_f64": lambda: network(torch.float64),
        "layer_hh_f32": layer("hh", torch.float32, dt=0.02, trainable=["VT"]),
        "layer_hh_f64": layer("hh", torch.float64, dt=0.02, trainable=["VT"]),
        "layer_coba_f32": layer("coba", torch.float32, dt=0.1),
        "layer_coba_f64": layer("coba", torch.float64, dt=0.1),
        "kernels": kernels,
    }


# ---------------------------------------------------------------------------------------
# The subprocess: compile every launched kernel for sm_90
# ---------------------------------------------------------------------------------------

_PROPS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill "
                    r"loads")
_REGS = re.compile(r"Used (\d+) registers")
_DRAWS = re.compile(r"_r\.(uniform|normal|bernoulli)\(")


def _kind(name: str, args: list[str]) -> str:
    """The template (or hand-written kernel) a kernel comes from, by its name and
    arguments (the names snncc.backends.triton.codegen and layer.j2 give them)."""
    if "dense_ptr_" in args:
        return "dense"
    if "syn_ptr_" in args:
        return "events"
    shared = re.fullmatch(r"(\w+?)_shared\d+", name)  # one function of several uses
    if shared:
        return {"population": "neurons"}.get(shared.group(1), shared.group(1))
    for suffix in ("neurons", "record", "reset", "poisson", "generator", "synapses", "input"):
        if name.endswith("_" + suffix):
            return suffix
    return {"forward_kernel": "forward", "backward_kernel": "backward"}.get(name, name)


def _ptxas_log(kernel: object) -> str:
    """ptxas's report on a compiled kernel's PTX, from the ptxas in Triton's wheel (for
    Triton before 3.4, which has no ``TRITON_DUMP_PTXAS_LOG``)."""
    import triton.backends.nvidia

    ptx = kernel.asm["ptx"]  # type: ignore[attr-defined]
    arch = re.search(r"^\.target\s+(\w+)", ptx, re.MULTILINE)
    ptxas = os.environ.get("TRITON_PTXAS_PATH") or str(
        Path(triton.backends.nvidia.__file__).parent / "bin" / "ptxas")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        proc = subprocess.run([ptxas, "-v", f"--gpu-name={arch.group(1) if arch else 'sm_90a'}",
                               str(src), "-o", str(Path(tmp) / "k.o")],
                              capture_output=True, text=True, timeout=300)
    return proc.stdout + proc.stderr


def _compile_all(only: list[str] | None = None) -> list[dict]:
    """Run the cases with every kernel launch replaced by an sm_90 compile; one row per
    compiled kernel (or per failed case)."""
    import contextlib
    import io
    import traceback

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.runtime import driver
    from triton.runtime.jit import JITFunction

    class Sm90:
        """A stand-in driver: an sm_90 GPU that is never launched on."""

        def get_current_target(self) -> GPUTarget:
            return GPUTarget("cuda", 90, 32)

        def get_current_device(self) -> int:
            return 0

        def get_current_stream(self, device: int | None = None) -> int:
            return 0

    driver.set_active(Sm90())
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    done: dict[str, dict] = {}  # kernel hash (code and specialization) -> its row
    case = [""]
    launch = JITFunction.run

    def compile_instead(self: JITFunction, *args: object, grid: object, warmup: bool,
                        **kwargs: object) -> object:
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            kernel = launch(self, *args, grid=grid, warmup=True, **kwargs)
        key = (case[0], kernel.hash)
        if key in seen:  # launched again
            return kernel
        seen.add(key)
        if kernel.hash in done:  # the same code compiled in an earlier case
            rows.append({**done[kernel.hash], "case": case[0], "compiled": False})
            return kernel
        text = log.getvalue() or _ptxas_log(kernel)
        props, regs = _PROPS.search(text), _REGS.search(text)
        name = self.fn.__name__
        dt = kwargs.get("DT")
        rows.append({
            "case": case[0], "kernel": name, "kind": _kind(name, self.arg_names),
            "dtype": "fp64" if dt is not None and "64" in str(dt) else "fp32",
            "num_warps": kernel.metadata.num_warps,
            "block": [kwargs.get("BLOCK"), kwargs.get("BLOCK_F")],
            "draws": sorted(set(_DRAWS.findall(self.src))),
            "registers": int(regs.group(1)) if regs else None,
            "spill_stores": int(props.group(2)) if props else None,
            "spill_loads": int(props.group(3)) if props else None,
            "compiled": True,
            "error": None if props else f"no ptxas log for {name}:\n{text}"})
        done[kernel.hash] = rows[-1]
        return kernel

    JITFunction.run = compile_instead  # type: ignore[method-assign]
    # on the CPU, generated modules refuse compiled mode (they cannot run there): here
    # they are compiled, never run
    from snncc.backends.triton import codegen

    codegen.check_device = lambda device: None
    for name, fn in _cases().items():
        if only and name not in only:
            continue
        case[0] = name
        try:
            fn()
        except Exception:  # noqa: BLE001 - reported per case
            rows.append({"case": name, "kernel": None, "error": traceback.format_exc()})
    rows.append({"case": None, "triton": triton.__version__})
    return rows


def _table(rows: list[dict]) -> str:
    """The rows as a table (one line per compiled kernel)."""
    lines = [f"{'case':24} {'kernel':22} {'kind':16} {'dtype':5} {'warps':>5} {'block':>10} "
             f"{'regs':>4} {'spill st/ld':>11}"]
    for r in rows:
        if r.get("kernel"):
            block = "x".join(str(b) for b in r["block"] if b is not None)
            lines.append(f"{r['case']:24} {r['kernel']:22} {r['kind']:16} {r['dtype']:5} "
                         f"{r['num_warps']:5} {block:>10} {r['registers']!s:>4} "
                         f"{r['spill_stores']!s:>5}/{r['spill_loads']!s:<5}")
    n = sum(1 for r in rows if r.get("compiled"))
    return "\n".join([*lines, f"({n} kernels compiled, the other rows are the same code)"])


def aot_rows(only: list[str] | None = None) -> list[dict]:
    """Run the compiles in a fresh process (compiled mode, an empty Triton cache so that
    ptxas really runs) and return its rows."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        env = {**os.environ, "TRITON_INTERPRET": "0", "TRITON_DUMP_PTXAS_LOG": "1",
               "TRITON_CACHE_DIR": str(Path(tmp) / "cache"), "SNNCC_CACHE_DIR": tmp,
               "TRITON_DEFAULT_FP_FUSION": "1"}
        # a hang guard only (the compiles take a minute or two on 2 busy cores)
        proc = subprocess.run([sys.executable, __file__, "--json", str(out), *(only or [])],
                              env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not out.exists():
            raise AssertionError(f"the AOT compile process failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
        return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rows() -> list[dict]:
    """The compile report of every case (one subprocess for the module)."""
    pytest.importorskip("triton.backends.nvidia", reason="Triton without its CUDA backend")
    out = aot_rows()
    print(f"\nTriton {out[-1]['triton']}, sm_90:\n{_table(out)}")
    return out


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_compiles_for_sm90_without_float32_spills(rows: list[dict], case: str) -> None:
    """Every kernel of the case compiles, the case covers what it is for, and no float32
    kernel spills registers (float64 spills are printed)."""
    mine = [r for r in rows if r.get("case") == case]
    errors = [r["error"] for r in mine if r.get("error")]
    assert not errors, f"{case}: " + "\n".join(errors)
    kinds, draws = EXPECTED[case]
    got_kinds = {r["kind"] for r in mine}
    got_draws = {d for r in mine for d in r["draws"]}
    assert kinds <= got_kinds, f"{case} should compile {sorted(kinds - got_kinds)}"
    assert draws <= got_draws, f"{case} should draw {sorted(draws - got_draws)}"
    spills = [r for r in mine if r["dtype"] == "fp32" and (r["spill_stores"] or
                                                            r["spill_loads"])]
    assert not spills, f"{case}: float32 kernels spill registers:\n{_table(spills)}"
    f64 = [r for r in mine if r["dtype"] == "fp64" and (r["spill_stores"] or
                                                         r["spill_loads"])]
    if f64:
        print(f"{case}: float64 kernels that spill registers:\n{_table(f64)}")


def test_every_template_and_draw_is_compiled(rows: list[dict]) -> None:
    """Every Triton template, every draw and every kernel of snncc.kernels, in float32
    (and the layer's kernels in float64)."""
    done = {(r["kind"], r["dtype"]) for r in rows if r.get("kernel")}
    kinds = {"neurons", "record", "reset", "events", "dense", "poisson", "generator",
             "synapses", "input", "forward", "backward", "compact_kernel", "bernoulli_kernel"}
    want = {(k, "fp32") for k in kinds} | {("forward", "fp64"), ("backward", "fp64")}
    assert want <= done, f"not compiled: {sorted(want - done)}"
    draws = {d for r in rows if r.get("kernel") and r["dtype"] == "fp32" for d in r["draws"]}
    assert draws == {"uniform", "normal", "bernoulli"}


if __name__ == "__main__":
    argv = sys.argv[1:]
    dest = None
    if argv[:1] == ["--json"]:
        dest, argv = argv[1], argv[2:]
    if os.environ.get("TRITON_INTERPRET", "0") not in ("0", ""):
        sys.exit("run with TRITON_INTERPRET=0 (Triton in compiled mode)")
    os.environ["TRITON_INTERPRET"] = "0"
    os.environ["TRITON_DUMP_PTXAS_LOG"] = "1"
    if not dest:  # a fresh cache: ptxas runs (and logs) for every kernel
        os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="snncc-aot-")
    result = _compile_all(argv or None)
    if dest:
        Path(dest).write_text(json.dumps(result))
    else:
        print(f"Triton {result[-1]['triton']}, sm_90:\n{_table(result)}")
        for r in result:
            if r.get("error"):
                print(f"{r['case']}: {r['error']}")
