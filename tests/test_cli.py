"""The ``snncc`` command line, the plotting helpers and ``examples/cuba.py``."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from snncc.cli import main, step_code

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
    paths = [raster(h.spikes, tmp_path / "r.png", title="raster", duration=0.02),
             traces(h.vm, "v", tmp_path / "v"),
             rate_histogram(h.spikes, tmp_path / "h.png", duration=0.02)]
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
