"""What every benchmark records about the machine it ran on."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (or the platform's)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def module_version(module: str) -> str | None:
    """``module.__version__``, or None if it cannot be imported."""
    try:
        mod = __import__(module)
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None
    return str(getattr(mod, "__version__", "unknown"))


def device_name(device: Any) -> str:
    """The GPU's name on CUDA, else the CPU model."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def slug(text: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def machine_info(device: Any, modules: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a benchmark result must name: device, CPU, versions of torch, CUDA, Triton,
    numpy, snncc and of ``modules``, the load at the start."""
    import numpy as np
    import torch

    import snncc

    info = {
        "device": device_name(device),
        "device_type": device.type,
        "cpu_model": cpu_model(),
        "nproc": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "triton": module_version("triton"),
    }
    info.update({name: module_version(name) for name in modules})
    info.update({
        "numpy": np.__version__,
        "snncc": snncc.__version__,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg")
        else None,
    })
    return info


def write_results(out: Path, stem: str, payload: dict[str, Any], table: str,
                  argv: list[str] | None) -> None:
    """Write ``<stem>.json`` (``payload`` plus the command line) and ``<stem>.md``
    (``table``) into ``out`` and say where."""
    import json
    import sys

    payload["command"] = " ".join([Path(sys.argv[0]).name,
                                   *(sys.argv[1:] if argv is None else argv)])
    path = out / f"{stem}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    (out / f"{stem}.md").write_text(table)
    print(f"wrote {path} and {out / (stem + '.md')}")
