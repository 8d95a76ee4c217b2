"""A spiking MLP on scikit-learn's 8x8 digits, trained with surrogate gradients.

Direct encoding: every image (64 pixels in [0, 1]) is fed as a constant current for T
steps. The network, with time folded into the batch for the stateless layers::

    [T, B, 64] -> SeqToANN(Linear 64->128) -> LIF -> SeqToANN(Linear 128->10)
               -> readout -> [B, 10] logits

The LIF is a unitless, SpikingJelly-style neuron written as an equation string (tau = 2
steps, threshold 1, hard reset to 0, sigmoid surrogate). The readout is either the mean
over T of the last Linear's output (``--readout mean``, default: a non-spiking integrator)
or the spike counts of a second LIF layer (``--readout spikes``). Cross-entropy, Adam,
1437 training / 360 test images (seeded split).

    python examples/digits_mlp.py                     # 30 epochs, a few seconds on one CPU core
    python examples/digits_mlp.py --readout spikes --seed 1
    python examples/digits_mlp.py --device cuda       # Triton kernels on a GPU

Measured with the defaults (T = 8, 30 epochs, batch 64, Adam 3e-3 with a cosine
schedule, one thread) on an AMD EPYC core, torch 2.13 CPU: 98.3% test accuracy (seed 0;
seeds 0-9: 95.6% to 98.3%, mean 97.1%), 0.07 s per epoch, about 2 s of training.

``main(argv)`` returns a dict with the final test accuracy and seconds per epoch.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from torch import nn

import snncc
from snncc.io.datasets import load_digits, split

LIF = "dv/dt = (x - v)/tau : 1"
N_TRAIN, N_TEST = 1437, 360


def lif(backend: str) -> snncc.Layer:
    """A LIF like SpikingJelly's LIFNode (tau = 2, threshold 1, hard reset to 0), from a
    string; snncc integrates it exactly (decay exp(-1/2) per step, where SpikingJelly's
    Euler step decays by 1/2)."""
    return snncc.layer(LIF, threshold="v > 1", reset="v = 0", params={"tau": 2.0},
                       input="x", surrogate="sigmoid", alpha=4.0, backend=backend)


class SpikingMLP(nn.Module):
    """64 -> 128 LIF -> 10, direct encoding over ``steps`` time steps."""

    def __init__(self, steps: int, hidden: int, readout: str, backend: str) -> None:
        super().__init__()
        self.steps = steps
        self.readout = readout
        self.fc1 = snncc.SeqToANN(nn.Linear(64, hidden))
        self.lif1 = lif(backend)
        self.fc2 = snncc.SeqToANN(nn.Linear(hidden, 10))
        self.lif2 = lif(backend) if readout == "spikes" else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.flatten(1).unsqueeze(0).expand(self.steps, -1, -1)  # [T, B, 64]
        out = self.fc2(self.lif1(self.fc1(x)))  # [T, B, 10]
        if self.lif2 is not None:
            return self.lif2(out).mean(0) * 10.0  # spike rates, scaled as logits
        return out.mean(0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--steps", type=int, default=8, help="time steps T (8)")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--readout", choices=("mean", "spikes"), default="mean",
                    help="mean over T of the last Linear (default) or LIF spike counts")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", default="auto", choices=("auto", "torch", "triton"))
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: the model is tiny, and more threads "
                         "slow it down a lot when other processes share the cores)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    args = ap.parse_args(argv)
    if min(args.epochs, args.steps, args.hidden, args.batch_size) < 1:
        ap.error("--epochs, --steps, --hidden and --batch-size must be >= 1")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    return args


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / len(x)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _main(args)
    finally:
        torch.set_num_threads(threads)


def _main(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    images, labels = load_digits()
    (x_tr, y_tr), (x_te, y_te) = split(images, labels, N_TRAIN, N_TEST, seed=args.seed)
    x_tr, x_te = (torch.as_tensor(a, device=device) for a in (x_tr, x_te))
    y_tr, y_te = (torch.as_tensor(a, device=device) for a in (y_tr, y_te))

    model = SpikingMLP(args.steps, args.hidden, args.readout, args.backend).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    gen = torch.Generator().manual_seed(args.seed)
    if not args.quiet:
        print(f"digits: {len(x_tr)} train / {len(x_te)} test, T = {args.steps}, hidden "
              f"{args.hidden}, readout {args.readout}, device {device}, backend "
              f"{model.lif1._backend_for(device)}")
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        total, n = 0.0, 0
        for idx in torch.randperm(len(x_tr), generator=gen).split(args.batch_size):
            idx = idx.to(device)
            loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
        sched.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        acc = evaluate(model, x_te, y_te)
        history.append({"epoch": epoch, "loss": total / n, "test_accuracy": acc,
                        "seconds": seconds})
        if not args.quiet:
            print(f"epoch {epoch:3d}  loss {total / n:.4f}  test accuracy {acc:.4f}  "
                  f"{seconds:.2f} s/epoch", flush=True)
    s_per_epoch = sum(h["seconds"] for h in history) / len(history)
    result = {"accuracy": history[-1]["test_accuracy"], "seconds_per_epoch": s_per_epoch,
              "epochs": args.epochs, "history": history}
    if not args.quiet:
        print(f"final test accuracy {result['accuracy']:.4f}; {s_per_epoch:.2f} s/epoch")
    return result


if __name__ == "__main__":
    main()
