"""The triton backend of multi-step layers (``snncc.layer(..., backend="triton")``)
against the torch layer, the reference that defines their semantics.

Each case runs the triton layer end to end (the custom ops, autograd, the runtime's
reduction of parameter gradients) and the torch layer's generated ``forward``/``backward``
on the same inputs, and compares the spikes (identical in float64), the final state and
the gradients of the input, of the initial state and of the trainable parameters. On a
machine without CUDA the kernels run in Triton's interpreter (small sizes); the ``gpu``
tests compile them and run large layers.
"""

from __future__ import annotations

import pytest
import torch

import snncc as sc

try:
    from snncc.kernels import import_triton

    import_triton()
except ImportError:  # pragma: no cover - triton is in the test extra
    pytest.skip("triton is not installed", allow_module_level=True)

from snncc.backends.torch import layer as torch_layer  # noqa: E402
from snncc.backends.triton.layer import generate_layer  # noqa: E402
from snncc.runtime.network import load_generated  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

UNITLESS_LIF = "dv/dt = (x - v)/tau : 1"
# refractory while w (bumped by each spike) is high; v is not clamped, so it can pass the
# threshold while refractory
COND_REFRACTORY = sc.NeuronModel(
    """dv/dt = (x - v)/tau : 1
    dw/dt = -w/tau_w : 1
    x : 1""",
    threshold="v > 1", reset="v = 0.9\nw += 1", refractory="w > 0.3",
    params={"tau": 2.0, "tau_w": 3.0}, name="cond_refractory")


# ------------------------------------------------------------------ the reference
def _reference_build(layer: sc.Layer, dtype: torch.dtype):
    """(forward, backward) of the torch layer's code for ``layer``."""
    code = torch_layer.generate_layer(layer.step_ir)
    _, build = load_generated(code.source, "torch")
    return build(torch.device(DEVICE), dtype)


def _reference(layer: sc.Layer, x: torch.Tensor, init: dict[str, torch.Tensor],
               grad_spikes: torch.Tensor, grad_final: dict[str, torch.Tensor],
               saved_dtype: torch.dtype = torch.float32) -> dict:
    """Spikes, final state and gradients from the reference's forward and backward."""
    step = layer.step_ir
    cd = torch.float64 if x.dtype == torch.float64 else torch.float32
    fwd, bwd = _reference_build(layer, cd)
    T, B = x.shape[:2]
    xf = x.reshape(T, B, -1).contiguous()
    N = xf.shape[2]
    P = {k: getattr(layer, k).detach().reshape(-1).to(DEVICE) for k in step.tensors}
    aux = [k for k in init if k not in step.states]
    states = [init[k].reshape(B, N).to(cd) for k in step.states]
    sd = torch.float64 if cd == torch.float64 else saved_dtype
    spikes, fin, fin_aux, saved = fwd(xf, states, [init[k].reshape(B, N).to(cd) for k in aux],
                                      P, True, sd)
    gx, ginit, gp = bwd(grad_spikes.reshape(T, B, N).contiguous(),
                        [grad_final[k].reshape(B, N).to(cd) for k in step.states], saved, xf, P)
    grads = {}
    for k, g in gp.items():
        grads[k] = g.sum().reshape(1) if step.tensors[k].shared else g.sum(0)
    return {"spikes": spikes.reshape(x.shape),
            "final": {**dict(zip(step.states, fin)), **dict(zip(aux, fin_aux))},
            "grad_x": gx.reshape(x.shape), "grad_init": dict(zip(step.states, ginit)),
            "grad_params": grads}


# ------------------------------------------------------------------ the comparison
def _values(layer: sc.Layer, results: dict, same: torch.Tensor) -> dict[str, torch.Tensor]:
    """The compared values of a run, by name, as float64 vectors on the CPU, restricted to
    the lanes (batch, neuron) in the mask ``same`` [B, N] (and to the parameters that
    only those lanes feed)."""
    B, N = same.shape
    same = same.cpu()
    out = {}
    for k, v in results["final"].items():
        out["final " + k] = v.reshape(B, N).cpu()[same]
    for k, v in results["grad_init"].items():
        out["grad_init " + k] = v.reshape(B, N).cpu()[same]
    out["grad_x"] = results["grad_x"].reshape(-1, B, N).cpu()[:, same]
    for k, v in results["grad_params"].items():
        v = v.reshape(-1).cpu()
        shared = layer.step_ir.tensors[k].shared
        out["grad_param " + k] = v[same.all().reshape(1)] if shared else v[same.all(0)]
    return {k: v.detach().reshape(-1).double() for k, v in out.items()}


def _compare(layer: sc.Layer, x: torch.Tensor, *, state: dict | None = None,
             seed: int = 0, min_spikes: int = 1, saved_dtype: torch.dtype = torch.float32,
             flips: float = 0.0) -> dict:
    """Run ``layer`` (backend triton) with autograd and the reference on the same input
    and random output gradients, and assert they agree: in float64, identical spikes and
    values within 1e-9; in float32, identical spikes and each value (final state,
    gradients) as close to the float64 reference as the float32 reference is (within 4x
    its error, plus 1e-5 of the value's scale). ``flips``: the fraction of lanes whose
    spike trains may differ (values rounded differently can cross the threshold on
    either side in large float32 runs); only the other lanes are compared. Returns the
    triton results."""
    layer.backend = "triton"
    gen = torch.Generator().manual_seed(seed)
    x = x.to(DEVICE)
    T, B = x.shape[:2]
    cd = torch.float64 if x.dtype == torch.float64 else torch.float32
    init = layer.initial_state((B, int(x[0, 0].numel())), torch.device(DEVICE), cd)
    for k, v in (state or {}).items():
        init[k] = v.reshape(init[k].shape).to(DEVICE, cd)
    xg = x.detach().clone().requires_grad_(True)
    st = {k: (v.clone().requires_grad_(True) if k in layer.step_ir.states else v.clone())
          for k, v in init.items()}
    for p in layer.parameters():
        p.grad = None
    spikes, final = layer.run(xg, st)
    assert spikes.dtype == x.dtype and spikes.shape == x.shape
    w_s = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(DEVICE)
    w_f = {k: torch.randn(final[k].shape, generator=gen, dtype=torch.float64).to(DEVICE)
           for k in layer.step_ir.states}
    loss = (spikes * w_s.to(x.dtype)).sum() + sum((final[k] * w_f[k].to(cd)).sum()
                                                  for k in w_f)
    loss.backward()
    got = {"spikes": spikes.detach(), "final": final,
           "grad_x": xg.grad, "grad_init": {k: st[k].grad for k in layer.step_ir.states},
           "grad_params": {k: getattr(layer, k).grad for k in layer.step_ir.trainable}}
    for k, g in got["grad_params"].items():
        assert g is not None, f"no gradient for {k}"

    ref = _reference(layer, x, init, w_s.to(x.dtype), {k: v.to(cd) for k, v in w_f.items()},
                     saved_dtype)
    assert int(ref["spikes"].sum()) >= min_spikes, "the case should make the neurons spike"
    ref64 = ref if cd == torch.float64 else _reference(
        layer, x.double(), {k: v.double() for k, v in init.items()},
        w_s.to(x.dtype).double(), w_f, torch.float64)
    s_got, s_ref, s_64 = (v.reshape(T, B, -1).double()
                          for v in (spikes, ref["spikes"], ref64["spikes"]))
    same = ((s_got == s_ref) & (s_ref == s_64)).all(0)  # [B, N]: lanes that agree
    differ = 1.0 - same.double().mean().item()
    assert differ <= flips, f"the spike trains of {differ:.3%} of the lanes differ"
    a, b, c = (_values(layer, r, same) for r in (got, ref, ref64))
    assert set(a) == set(b)
    for k in a:
        if cd == torch.float64:
            # parameters (and so their gradients) are float32 tensors
            rtol = 1e-6 if k.startswith("grad_param") else 1e-9
            torch.testing.assert_close(a[k], b[k], rtol=rtol, atol=1e-12 * (
                b[k].abs().max().item() if b[k].numel() else 1.0),
                msg=lambda m, k=k: f"{k}: {m}")
        elif a[k].numel():  # float32: both against the float64 reference
            err, err_ref = (a[k] - c[k]).abs().max().item(), (b[k] - c[k]).abs().max().item()
            scale = c[k].abs().max().item()
            assert err <= 4 * err_ref + 1e-5 * scale, \
                f"{k}: triton float32 is off by {err:.3g}, the torch reference by " \
                f"{err_ref:.3g} (scale {scale:.3g})"
    return got


def _drive(shape: tuple[int, ...], lo: float, hi: float, dtype=torch.float64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64)).to(dtype)


# ------------------------------------------------------------------ cases
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_unitless_lif_string(dtype):
    L = sc.layer(UNITLESS_LIF, threshold="v > 1", reset="v = 0", params={"tau": 2.0},
                 input="x", trainable=["tau"])
    _compare(L, _drive((12, 3, 5), 0.0, 3.0, dtype), min_spikes=10)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lif_time_refractory(dtype):
    L = sc.layer("lif", dt=0.1, alpha=1000.0, trainable={"tau": "shared"})
    assert L.step_ir.refractory_steps == 20
    # strong drive: spikes within a few steps, then the 20-step refractory period
    _compare(L, _drive((40, 2, 4), 0.0, 0.6, dtype), min_spikes=4)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_alif(dtype):
    L = sc.layer("alif", dt=0.5, alpha=200.0, trainable=["beta", "tau_a"])
    _compare(L, _drive((30, 2, 4), 0.0, 0.1, dtype), min_spikes=4)


def test_hodgkin_huxley():
    # six states, exprel, exponential Euler; refractory 3 ms (150 steps) without a
    # clamp: one spike each, however long v stays above the threshold
    L = sc.layer("hh", dt=0.02, trainable=["VT"])
    out = _compare(L, _drive((24, 1, 3), 3e-8, 6e-8), min_spikes=3)
    assert out["spikes"].sum(0).max() == 1


@pytest.mark.parametrize("surrogate", ["atan", "fast_sigmoid", "rectangle", "triangle",
                                       "gaussian", "piecewise_quadratic"])
def test_surrogates(surrogate):
    L = sc.layer(UNITLESS_LIF, threshold="v > 1", reset="v = 0", params={"tau": 2.0},
                 input="x", trainable=["tau"], surrogate=surrogate)
    _compare(L, _drive((10, 2, 4), 0.0, 3.0), min_spikes=5)


def test_izhikevich():
    L = sc.layer("izhikevich", dt=0.5, alpha=20.0, trainable=["a"])
    _compare(L, _drive((40, 2, 3), 0.0, 30.0), min_spikes=2)


def test_clif():
    L = sc.layer("clif", dt=1.0, alpha=5.0, trainable=["tau_m"])
    _compare(L, _drive((25, 2, 4), 0.0, 800.0), min_spikes=4)


def test_refractory_condition():
    L = sc.layer(COND_REFRACTORY, input="x", trainable=["tau"])
    assert L.step_ir.refractory_condition is not None
    out = _compare(L, _drive((30, 2, 4), 1.5, 3.0), min_spikes=4)
    # the drive keeps v above the threshold: a neuron spikes only once w has decayed
    s = out["spikes"][:, 0, 0].nonzero().flatten().tolist()
    assert len(s) >= 2 and min(b - a for a, b in zip(s, s[1:])) > 1


def _per_neuron_layer(N: int) -> sc.Layer:
    model = sc.NeuronModel(UNITLESS_LIF + "\nx : 1", threshold="v > th", reset="v = 0",
                           params={"tau": 2.0, "th": 1.0})
    return sc.layer(model, params={"tau": torch.linspace(1.5, 4.0, N)}, input="x",
                    trainable={"tau": "neuron", "th": "shared"}, size=N)


def test_per_neuron_and_shared_parameters():
    L = _per_neuron_layer(5)
    assert not L.step_ir.tensors["tau"].shared and L.step_ir.tensors["th"].shared
    _compare(L, _drive((12, 3, 5), 0.0, 3.0), min_spikes=10)


def test_several_programs(monkeypatch):
    # 3 x 7 lanes in programs of 8 (the last one partly masked): the lanes' indices, the
    # per-neuron parameters (index lane % N) and the per-lane gradients line up
    L = _per_neuron_layer(7)
    _, build = load_generated(L.source("triton"), "triton")
    monkeypatch.setitem(build.__globals__, "launch_config", lambda lanes, device, k, dtype: (8, 4))
    _compare(L, _drive((10, 3, 7), 0.0, 3.0), min_spikes=10)


def test_detach_reset():
    L = sc.layer("alif", dt=0.5, alpha=200.0, detach_reset=True, trainable=["beta"])
    assert L.step_ir.detach_reset
    _compare(L, _drive((30, 2, 4), 0.0, 0.1), min_spikes=4)


def test_bf16_saved_values_and_half_input():
    L = sc.layer(UNITLESS_LIF, threshold="v > 1", reset="v = 0", params={"tau": 2.0},
                 input="x", trainable=["tau"], saved_dtype=torch.bfloat16)
    x = _drive((12, 3, 5), 0.0, 3.0, torch.float32)
    # bf16 values round the same on both sides: same gradients as the torch reference
    _compare(L, x, min_spikes=10, saved_dtype=torch.bfloat16)
    _compare(L, x.to(torch.float16), min_spikes=10, saved_dtype=torch.bfloat16)


def test_input_into_a_state_and_initial_state():
    # the input adds to v at the start of each step; a given initial state
    L = sc.layer("dv/dt = -v/tau : 1", threshold="v > 1", reset="v -= 1",
                 params={"tau": 3.0}, input="v", trainable=["tau"])
    assert L.step_ir.input == "_in"
    state = {"v": _drive((2, 4), 0.0, 1.0)}
    _compare(L, _drive((15, 2, 4), 0.0, 0.6), state=state, min_spikes=4)


def test_stateful_continuation():
    L = sc.layer("lif", dt=0.1, backend="triton", stateful=True)
    x = _drive((40, 2, 3), 0.0, 0.6).to(DEVICE)
    whole = L(x)
    L.reset()
    parts = torch.cat([L(x[:17]), L(x[17:])])
    assert set(L.state) == {"v", "_since"}
    torch.testing.assert_close(parts, whole, rtol=0, atol=0)
    # and against the reference, over the whole run
    ref = _reference(L, x, L.initial_state((2, 3), torch.device(DEVICE), torch.float64),
                     torch.zeros_like(x), {"v": torch.zeros(2, 3, dtype=torch.float64,
                                                           device=DEVICE)})
    torch.testing.assert_close(whole, ref["spikes"], rtol=0, atol=0)
    assert int(whole.sum()) >= 4
    torch.testing.assert_close(L.state["_since"].reshape(-1), ref["final"]["_since"].reshape(-1))
    torch.testing.assert_close(L.state["v"].reshape(-1), ref["final"]["v"].reshape(-1))


def test_source_is_readable():
    L = sc.layer("alif", dt=0.5, trainable=["beta"], backend="triton")
    src = L.source("triton")
    assert "@triton.jit\ndef forward_kernel(" in src and "def backward_kernel(" in src
    for text in ["dv/dt = (El - v + I)/tau_m", "threshold: v > Vt + beta*a",
                 "reset of a", "dL/dbeta", "refractory for 4 steps after a spike",
                 "for t in range(T):", "if SAVE:"]:
        assert text in src, text
    assert generate_layer(L.step_ir).source == src
    compile(src, "<layer>", "exec")


def test_no_grad():
    L = sc.layer(UNITLESS_LIF, threshold="v > 1", reset="v = 0", params={"tau": 2.0},
                 input="x", backend="triton")
    with torch.no_grad():
        x = _drive((6, 2, 3), 0.0, 3.0, torch.float32).to(DEVICE)
        L.backend = "torch"
        ref = L(x.cpu())
        L.backend = "triton"
        torch.testing.assert_close(L(x).cpu(), ref, rtol=0, atol=0)


# ------------------------------------------------------------------ on a GPU
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gpu_large_alif(dtype):
    # compiled kernels, several programs, per-neuron and shared parameters; bfloat16 input
    # (float32 compute) with bfloat16 saved values
    N = 2000
    L = sc.layer("alif", dt=0.5, alpha=200.0, size=N,
                 params={"beta": torch.linspace(1e-3, 2e-3, N)},
                 trainable={"beta": "neuron", "tau_a": "shared"},
                 saved_dtype=torch.bfloat16 if dtype == torch.bfloat16 else torch.float32)
    x = _drive((64, 32, N), 0.0, 0.1, torch.float32).to(dtype)
    # a few of the 64000 lanes may cross the threshold differently in float32
    _compare(L, x, min_spikes=1000, saved_dtype=L.saved_dtype, flips=1e-3)


@pytest.mark.gpu
def test_gpu_large_lif_per_neuron_float64():
    N = 3000
    L = sc.layer("lif", dt=0.1, alpha=1000.0, trainable={"tau": "neuron"}, size=N,
                 params={"tau": torch.linspace(5e-3, 2e-2, N)})
    _compare(L, _drive((100, 16, N), 0.0, 0.1), min_spikes=1000)


@pytest.mark.gpu
def test_gpu_stateful_hodgkin_huxley():
    # many registers (six states): smaller blocks, same results
    L = sc.layer("hh", dt=0.02, stateful=True, backend="triton")
    x = _drive((60, 64, 500), 3e-8, 6e-8).to("cuda")
    whole = L(x)
    L.reset()
    torch.testing.assert_close(torch.cat([L(x[:25]), L(x[25:])]), whole, rtol=0, atol=0)
    assert whole.sum(0).max() == 1 and whole.sum() > 1000
