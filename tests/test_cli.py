"""The ``snncc`` command line, the plotting helpers and ``examples/cuba.py``."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from snncc.cli import main, step_code
from snncc.units import ms

ROOT = Path(__file__).resolve().parents[1]


def test_demo_prints_rate_and_writes_png(tmp_path: Path, capsys: pytest.CaptureFixture
                                         ) -> None:
    rc = main(["demo", "--n", "400", "--duration", "0.1", "--device", "cpu",
               "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "firing rate:" in out and "Hz" in out
    assert "seconds per simulated second" in out and "compile time" in out
    assert "def step(n, rec):" in out  # the generated step code is shown
    png = tmp_path / "cuba_raster.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(png.resolve()) in out
    rate = float(out.split("firing rate:")[1].split("Hz")[0])
    assert 0.5 < rate < 100


def test_demo_with_the_triton_backend(tmp_path: Path, capsys: pytest.CaptureFixture
                                      ) -> None:
    """The demo on the triton backend (Triton's interpreter on a CPU) shows kernels."""
    pytest.importorskip("snncc.kernels.smath", reason="needs triton")
    rc = main(["demo", "--n", "200", "--duration", "0.02", "--device", "cpu",
               "--backend", "triton", "--no-plot", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "backend triton on cpu" in out and "firing rate:" in out
    assert "Generated kernels" in out and "@triton.jit" in out


def test_emit_triton(capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("snncc.kernels.smath", reason="needs triton")
    assert main(["emit", "cuba", "--n", "100", "--backend", "triton"]) == 0
    out = capsys.readouterr().out
    assert "def P_neurons(" in out or "_neurons(" in out
    assert "dv/dt  = (ge + gi - (v - El))/taum" in out and "ge += we" in out


def test_emit_lif(capsys: pytest.CaptureFixture) -> None:
    assert main(["emit", "lif"]) == 0
    out = capsys.readouterr().out
    assert "dv/dt = (El - v + I)/tau" in out  # the equation, as a comment
    assert "def step(n, rec):" in out and "import torch" in out


def test_emit_cuba(capsys: pytest.CaptureFixture) -> None:
    assert main(["emit", "cuba", "--n", "400", "--step"]) == 0
    out = capsys.readouterr().out
    for eq in ("dv/dt  = (ge + gi - (v - El))/taum", "dge/dt = -ge/taue",
               "dgi/dt = -gi/taui", "ge += we", "gi += wi"):
        assert eq in out
    assert out.lstrip().startswith("def step(")


def test_emit_unknown_name_is_an_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["emit", "no_such_model"]) == 1
    err = capsys.readouterr().err
    assert "no_such_model" in err and "lif" in err


def test_no_command_prints_help(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_step_code_extracts_the_step_body() -> None:
    src = "def build():\n    x = 1\n\n    def step(n, rec):\n        y = n\n\n        z = 2\n" \
          "\n    return step\n"
    assert step_code(src) == ["def step(n, rec):", "    y = n", "", "    z = 2"]


def test_python_dash_m_snncc() -> None:
    out = subprocess.run([sys.executable, "-m", "snncc", "--help"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0 and "emit" in out.stdout


def test_example_cuba_runs(monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CUBA_N", "400")
    monkeypatch.setenv("CUBA_DURATION", "0.05")
    runpy.run_path(str(ROOT / "examples" / "cuba.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "spikes" in out and "Hz" in out and "population P" in out


def test_plots(tmp_path: Path) -> None:
    from snncc.examples import cuba_network
    from snncc.plotting import raster, rate_histogram, traces

    net, h = cuba_network(n=200, seed=1)
    net.compile(backend="torch", device="cpu").run(20.0)
    assert h.spikes is not None and h.vm is not None
    paths = [raster(h.spikes, tmp_path / "r.png", title="raster", duration=20 * ms),
             traces(h.vm, "v", tmp_path / "v"),
             rate_histogram(h.spikes, tmp_path / "h.png", duration=20)]
    for p in paths:
        assert p.suffix == ".png" and p.stat().st_size > 1000


def test_model_network_builds_every_library_model() -> None:
    from snncc import library
    from snncc.examples import model_network

    for name in library.names():
        net, h = model_network(name, n=2)
        assert h.G.size == 2 and net.name == name


def test_plot_without_matplotlib_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    import snncc
    from snncc.plotting import rate_histogram

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    with pytest.raises(snncc.SnnccError, match=r"pip install snncc\[plot\]"):
        rate_histogram(object(), tmp_path / "x.png", duration=1.0)


def test_bench_quick(capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--n", "200", "--duration", "0.02", "--repeats", "1",
                 "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "| snncc torch float32 |" in out and "cpu_cuba.py" in out


# ---------------------------------------------------------------------- snncc run
_RUN_CONFIG = """\
network: {name: small, dt: 0.1*ms, seed: 1}
groups:
  P:
    size: 200
    model: cuba
    params:
      taum: {dist: uniform, low: 18*ms, high: 22*ms}
    init: {v: Vr + rand()*(Vt - Vr)}
connections:
  Ce: {pre: "P[0:160]", post: P, p: 0.2, on_pre: ge += we, params: {we: 1.62*mV}}
  Ci: {pre: "P[160:200]", post: P, p: 0.2, on_pre: gi += wi, params: {wi: -9*mV}}
monitors:
  spikes: {kind: spike, source: P}
  vm: {kind: state, source: P, variables: [v], record: [0, 1]}
  rate: {kind: rate, source: P}
run: {duration: 40*ms, chunk: 10*ms, backend: torch, device: cpu}
"""


def test_run_a_config_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    h5py = pytest.importorskip("h5py")
    cfg = tmp_path / "small.yaml"
    cfg.write_text(_RUN_CONFIG)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--duration", "20*ms"]) == 0
    captured = capsys.readouterr()
    assert "snncc run summary (1 run" in captured.out and "spikes" in captured.out
    assert "100.0%" in captured.err  # the progress bar
    assert (out / "small.yaml").read_text() == _RUN_CONFIG  # a copy of the config
    assert "duration: 20*ms" in (out / "run.yaml").read_text()
    for png in ("spikes_raster.png", "spikes_rates.png", "vm_v.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((out / "tb" / "small").glob("events.out.tfevents.*"))
    with h5py.File(out / "data.h5", "r") as f:
        assert f.attrs["steps"] == 200 and f["monitors/vm/v"].shape == (200, 1, 2)
        n_spikes = f["monitors/spikes/i"].shape[0]
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary[0]["name"] == "small" and summary[0]["chunks"] == 2
    assert summary[0]["rates_hz"]["spikes"] == pytest.approx(n_spikes / 200 / 0.02)


def test_run_a_sweep(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("h5py")
    cfg = tmp_path / "sweep.json"
    import json

    import yaml

    data = yaml.safe_load(_RUN_CONFIG)
    data["sweep"] = {"grid": {"network.seed": [1, 2]}}
    cfg.write_text(json.dumps(data))
    out = tmp_path / "sweep_out"
    rc = main(["run", str(cfg), "--out", str(out), "--no-plots", "--quiet",
               "--duration", "0.01"])
    assert rc == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # quiet: no progress bar
    assert "small-seed=1" in captured.out and "small-seed=2" in captured.out
    for name in ("small-seed=1", "small-seed=2"):
        assert (out / name / "data.h5").exists() and (out / name / "run.json").exists()
        assert not list((out / name).glob("*.png"))
        assert json.loads((out / name / "run.json").read_text())["run"]["sweep"] == {
            "network.seed": int(name[-1])}


def test_run_default_folder_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default run folder is ./runs
    cfg = tmp_path / "small.yaml"
    cfg.write_text(_RUN_CONFIG.replace("taum: {dist: uniform", "taum: {dist: uniformm"))
    assert main(["run", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "snncc run: error: groups.P.params.taum.dist: unknown distribution 'uniformm'" \
        in err and "Traceback" not in err
    cfg.write_text(_RUN_CONFIG.replace("we: 1.62*mV", "we: 1.62*ms"))
    assert main(["run", str(cfg), "--no-plots", "--quiet", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err  # a unit error found at compile time
    assert "error: connections.Ce or connections.Ci: synapse model" in err
    cfg.write_text(_RUN_CONFIG.replace("duration: 40*ms, ", ""))
    assert main(["run", str(cfg)]) == 1
    assert "no run duration" in capsys.readouterr().err
    cfg.write_text(_RUN_CONFIG)
    assert main(["run", str(cfg), "--duration", "5*mV"]) == 1
    assert "--duration must be a time" in capsys.readouterr().err
    assert main(["run", str(cfg), "--no-plots", "--quiet", "--duration", "0.005"]) == 0
    capsys.readouterr()
    runs = list((tmp_path / "runs").glob("small-*"))
    assert len(runs) == 1 and (runs[0] / "data.h5").exists()


def test_run_a_saved_network_with_a_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture
                                            ) -> None:
    """A network built in Python, saved with its arrays in an .npz, runs from the CLI;
    the run folder holds copies of both, and its run.yaml loads."""
    pytest.importorskip("h5py")
    import numpy as np

    import snncc as sc
    from snncc.io.config import RunSettings, load_config, save_config
    from snncc.units import ms, mV

    net = sc.Network(dt=0.1 * ms, seed=5, name="saved")
    with net:
        G = sc.NeuronGroup(20, "lif", params={"I": np.linspace(10, 30, 20) * mV}, name="G")
        sc.SpikeMonitor(G, name="spikes")
    cfg = save_config(net, tmp_path / "cfg" / "net.yaml", inline_max=4,
                      run=RunSettings(name="saved", duration=0.02, backend="torch",
                                      device="cpu", tensorboard=False))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-plots", "--quiet"]) == 0
    assert "saved: 20 neurons" in capsys.readouterr().out
    assert (out / "net.yaml").exists() and (out / "net.npz").exists()
    assert not (out / "tb").exists()  # tensorboard: false in the run section
    again = load_config(out / "run.yaml")
    assert np.array_equal(again.G.params["I"].value, G.params["I"].value)
