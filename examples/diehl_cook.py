"""Unsupervised learning of MNIST digits with STDP (Diehl & Cook 2015).

Diehl & Cook, "Unsupervised learning of digit recognition using spike-timing-dependent
plasticity", Front. Comput. Neurosci. 9:99 (2015). The network::

    784 Poisson inputs --(all-to-all, STDP, ge += w)--> N excitatory (adaptive threshold)
    N excitatory --(one-to-one, ge += 10.4)--> N inhibitory
    N inhibitory --(all but the partner, gi += 17)--> N excitatory

- input: pixel/255 * 63.75 Hz Poisson spikes for 350 ms per image (dt = 0.5 ms);
- excitatory neurons: conductance LIF, ``dv/dt = ((v_rest - v) + ge*(E_exc - v) +
  gi*(E_inh - v))/(100 ms)``, rest and reset -65 mV, threshold ``v > -52 mV + theta``,
  refractory 5 ms, ``ge`` and ``gi`` (relative to the leak) decay with 1 ms and 2 ms;
  ``theta`` grows by 0.05 mV per spike (homeostasis);
- inhibitory neurons: rest -60 mV, reset -45 mV, threshold -40 mV, 10 ms, refractory 2 ms;
- learning: nearest-spike pair STDP with 20 ms traces, ``w -= 0.0001*x_post`` at a
  presynaptic spike, ``w += 0.01*x_pre`` at a postsynaptic spike, ``w`` in [0, 1]
  (``snncc.learning.stdp(pairing="nearest")``, the pair part of the paper's code); after
  every presentation each excitatory neuron's 784 incoming weights are scaled to sum 78;
- an image that makes fewer than 5 excitatory spikes is shown again with 32 Hz more
  maximal input rate (pixel/8 Hz per intensity step, starting at intensity 2).

Each presentation starts from the network's rest state (``net.run`` resets the state
variables; the paper lets them decay during 150 ms without input), while the learned
weights and ``theta`` are kept: ``theta`` is a per-neuron *parameter* written by the
reset, so ``net.run`` keeps it; its slow decay (tau = 1e7 ms) is applied on the host
after each presentation of 350 ms plus the paper's 150 ms rest.

Evaluation as in the paper: a second network with the same structure and static
synapses (``ge += w``, the learned ``w`` and ``theta``, no learning) runs many images
side by side (``batch=``), again re-presenting images with fewer than 5 spikes. Each
excitatory neuron is assigned the digit for which its mean response over the labelling
images (the training images) is highest; an image is classified as the digit whose
assigned neurons spike most on average.

The data are the 10,000 genuine MNIST test images (``t10k-*`` IDX files, read from
``--data``; nothing is downloaded or bundled), split with the seed into training and
disjoint hold-out images::

    python examples/diehl_cook.py                                  # 100 neurons, 1000/1000
    python examples/diehl_cook.py --neurons 100 --train 2000 --test 1000 --plot rf.png
    python examples/diehl_cook.py --quick                          # smoke run, seconds

Measured on 2 shared cores of an AMD EPYC (torch 2.13 CPU, snncc's torch backend, one
thread), seed 0, 100 neurons, one pass, 1000 hold-out images:

    --train 1000: 50.3% hold-out accuracy; 0.19 s per training image, 224 s in all
    --train 2000: 57.5% hold-out accuracy; 0.20 s per training image (1.01 presentations
                  of 350 ms each), 0.013-0.016 s per image in the batched evaluation
                  (batch 100), 440 s in all

Most of the 100 neurons have learned a digit-shaped receptive field after 2000 images,
but not yet enough distinct ones: the paper reaches 82.9% with 100 neurons only after
the 60,000 MNIST training images (here one pass costs about 0.2 s per image). Matching
the learned weights directly against the images (each neuron labelled by the images it
wins; no spikes) reaches only 57% after 1000 images too, so the limit is the amount of
training more than the spiking read-out. Differences to the paper's code: no random 0-10 ms input
delays, the pair (not triplet) form of its STDP rule, and a state reset instead of the
150 ms rest.

``main(argv)`` returns a dict with the hold-out accuracy, the timings, the learned
weights ``[784, N]`` and thresholds.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import snncc as sc
from snncc.io.datasets import load_mnist, split
from snncc.learning.plasticity import stdp
from snncc.units import Hz, ms, mV, volt

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist"
N_IMAGES = 10_000  # the MNIST test set

DT = 0.5 * ms
PRESENT_MS = 350.0  # presentation of one image
REST_MS = 150.0  # the paper's rest between images (here: a state reset)
MAX_RATE = 63.75 * Hz  # pixel 255 at the start intensity 2 (pixel/8 Hz per intensity)
START_INTENSITY = 2
MIN_SPIKES = 5  # fewer excitatory spikes: show the image again, 32 Hz brighter
MAX_INTENSITY = 30  # give up re-presenting beyond this (p = 0.48 spikes/step at 255)
W_INIT_MAX = 0.3
W_MAX = 1.0
W_SUM = 78.0  # each excitatory neuron's incoming weights sum to this
NU_PRE, NU_POST = 1e-4, 1e-2  # depression at pre spikes, potentiation at post spikes
TAU_TRACE = 20 * ms
THETA_PLUS = 0.05 * mV
TAU_THETA_MS = 1e7
W_EI, W_IE = 10.4, 17.0

EXC_EQS = """
dv/dt = ((v_rest - v) + ge*(E_exc - v) + gi*(E_inh - v))/tau_m : volt (unless refractory)
dge/dt = -ge/tau_ge : 1
dgi/dt = -gi/tau_gi : 1
"""


def excitatory_model(learning: bool) -> sc.NeuronModel:
    """The excitatory neurons; with ``learning`` each spike raises ``theta``."""
    return sc.NeuronModel(
        EXC_EQS + "theta : volt\n",
        threshold="v > v_thresh + theta",
        reset="v = v_reset\ntheta += theta_plus" if learning else "v = v_reset",
        refractory=5 * ms,
        params={"v_rest": -65 * mV, "v_reset": -65 * mV, "v_thresh": -52 * mV,
                "tau_m": 100 * ms, "tau_ge": 1 * ms, "tau_gi": 2 * ms, "E_exc": 0 * mV,
                "E_inh": -100 * mV, **({"theta_plus": THETA_PLUS} if learning else {})},
        name="dc_exc")


def inhibitory_model() -> sc.NeuronModel:
    return sc.NeuronModel(
        EXC_EQS, threshold="v > v_thresh", reset="v = v_reset", refractory=2 * ms,
        params={"v_rest": -60 * mV, "v_reset": -45 * mV, "v_thresh": -40 * mV,
                "tau_m": 10 * ms, "tau_ge": 1 * ms, "tau_gi": 2 * ms, "E_exc": 0 * mV,
                "E_inh": -85 * mV},
        name="dc_inh")


class DiehlCook:
    """One built network: ``learning=True`` for training (STDP, growing ``theta``,
    random initial weights), else static synapses with the given weights and ``theta``."""

    def __init__(self, n: int, *, learning: bool, seed: int, backend: str, device: str,
                 batch: int = 1, weights: np.ndarray | None = None,
                 pairs: tuple[np.ndarray, np.ndarray] | None = None,
                 theta: np.ndarray | None = None) -> None:
        self.n = n
        net = sc.Network(dt=DT, seed=seed, name="diehl_cook" if learning else "diehl_cook_eval")
        theta = np.zeros(n) if theta is None else theta
        with net:
            self.input = sc.Encoder(shape=(1, 28, 28), coding="poisson", max_rate=MAX_RATE,
                                    scale=1 / 255, name="input")
            self.exc = sc.NeuronGroup(n, excitatory_model(learning),
                                      init={"v": -65 * mV, "theta": theta * volt}, name="exc")
            self.inh = sc.NeuronGroup(n, inhibitory_model(), init={"v": -60 * mV}, name="inh")
            if learning:
                rule = stdp(pairing="nearest", update="additive", taupre=TAU_TRACE,
                            taupost=TAU_TRACE, Apre=NU_POST, Apost=-NU_PRE, wmin=0.0,
                            wmax=W_MAX, on_pre_effect="ge += w")
                self.xe = sc.Connection(self.input, self.exc, rule, link_type="full",
                                        w_init="uniform",
                                        w_init_param={"a": 0.0, "b": W_INIT_MAX},
                                        name="input_exc")
            else:
                assert weights is not None and pairs is not None
                self.xe = sc.Connection(self.input, self.exc, on_pre="ge += w", i=pairs[0],
                                        j=pairs[1], weight=weights, name="input_exc")
            sc.Connection(self.exc, self.inh, link_type="one_to_one",
                          on_pre=f"ge += {W_EI}", name="exc_inh")
            sc.Connection(self.inh, self.exc, condition="i != j", on_pre=f"gi += {W_IE}",
                          name="inh_exc")
            self.counts = sc.Decoder(self.exc, "spike_counts", name="counts")
        self.net = net
        self.sim = net.build(backend=backend, device=device, batch=batch)
        self.xe_name = net.build_name(self.xe)
        proj = self.sim.program.projections[self.xe_name]
        self.pre, self.post = proj.i, proj.j
        self._post_t = torch.as_tensor(proj.j, device=self.sim.device)

    @property
    def w(self) -> torch.Tensor:
        """The input weights, ``[batch, 784*N]`` (a live buffer)."""
        return self.sim.get(self.xe_name, "w")

    @property
    def theta(self) -> torch.Tensor:
        """The adaptive thresholds in volts, ``[batch, N]`` (a live buffer)."""
        return self.sim.get(self.net.build_name(self.exc), "theta")

    @torch.no_grad()
    def normalise(self) -> None:
        """Scale each excitatory neuron's incoming weights to sum ``W_SUM``."""
        w = self.w[0]
        sums = torch.zeros(self.n, dtype=w.dtype, device=w.device).index_add_(
            0, self._post_t, w)
        factor = torch.where(sums > 0, W_SUM / sums.clamp_min(1e-30), torch.zeros_like(sums))
        w.mul_(factor[self._post_t])

    def weight_matrix(self) -> np.ndarray:
        """The input weights as a ``[784, N]`` matrix."""
        W = np.zeros((784, self.n))
        W[self.pre, self.post] = self.w[0].detach().cpu().double().numpy()
        return W

    def present(self, images: np.ndarray, intensity: np.ndarray) -> np.ndarray:
        """Show ``images`` (``[batch, 784]``, 0-255) for 350 ms at the given intensities
        (one per row; 0 switches a row's input off); the spike counts ``[batch, N]``."""
        self.input(images * (intensity / START_INTENSITY)[:, None])
        self.net.run(PRESENT_MS * ms)
        return self.counts.predict.detach().cpu().double().numpy()


def train(model: DiehlCook, images: np.ndarray, *, epochs: int, log_every: int,
          quiet: bool) -> dict[str, Any]:
    """Unsupervised training: one presentation (or more, brighter) per image."""
    decay = math.exp(-(PRESENT_MS + REST_MS) / TAU_THETA_MS)
    model.normalise()  # the paper normalises before every presentation
    presentations, spikes, all_spikes = 0, 0, 0
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for k, img in enumerate(images):
            x = img.reshape(1, 784).astype(np.float64)
            intensity = START_INTENSITY
            while True:
                counts = model.present(x, np.array([float(intensity)]))
                presentations += 1
                all_spikes += int(counts.sum())
                model.normalise()
                with torch.no_grad():
                    model.theta.mul_(decay)
                if counts.sum() >= MIN_SPIKES or intensity >= MAX_INTENSITY:
                    break
                intensity += 1
            spikes += int(counts.sum())
            done = epoch * len(images) + k + 1
            if not quiet and log_every and done % log_every == 0:
                s = time.perf_counter() - t0
                theta = model.theta[0].double().cpu().numpy() * 1e3
                print(f"  trained {done:5d} images, {s / done:.3f} s/image, "
                      f"{presentations / done:.2f} presentations/image, "
                      f"theta {theta.mean():.2f} mV (max {theta.max():.2f})", flush=True)
    seconds = time.perf_counter() - t0
    n = epochs * len(images)
    return {"seconds": seconds, "seconds_per_image": seconds / max(n, 1),
            "presentations": presentations, "presentations_per_image": presentations / max(n, 1),
            "spikes_per_image": spikes / max(n, 1), "spikes_all_presentations": all_spikes}


def responses(model: DiehlCook, images: np.ndarray, batch: int) -> tuple[np.ndarray, int]:
    """Spike counts ``[len(images), N]`` of the static network, ``batch`` images side by
    side; images with fewer than 5 spikes are shown again, brighter. Also returns the
    number of batch runs."""
    out = np.zeros((len(images), model.n))
    runs = 0
    for lo in range(0, len(images), batch):
        x = np.zeros((batch, 784))
        chunk = images[lo:lo + batch].reshape(-1, 784).astype(np.float64)
        m = len(chunk)
        x[:m] = chunk
        done = np.arange(batch) >= m  # padding rows never run
        intensity = np.full(batch, float(START_INTENSITY))
        counts = np.zeros((batch, model.n))
        while True:
            c = model.present(x, np.where(done, 0.0, intensity))
            runs += 1
            fresh = ~done & ((c.sum(1) >= MIN_SPIKES) | (intensity >= MAX_INTENSITY))
            counts[fresh] = c[fresh]
            done |= fresh
            if done.all():
                break
            intensity[~done] += 1
        out[lo:lo + m] = counts[:m]
    return out, runs


def assign_labels(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each neuron's digit: the one with the highest mean response (-1: never fired)."""
    rates = np.stack([counts[labels == d].mean(0) if np.any(labels == d)
                      else np.zeros(counts.shape[1]) for d in range(10)])  # [10, N]
    assignments = rates.argmax(0)
    assignments[rates.max(0) <= 0] = -1
    return assignments


def predict(counts: np.ndarray, assignments: np.ndarray) -> np.ndarray:
    """The digit whose assigned neurons have the highest mean spike count."""
    scores = np.zeros((len(counts), 10))
    for d in range(10):
        mask = assignments == d
        if mask.any():
            scores[:, d] = counts[:, mask].mean(1)
    return scores.argmax(1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None,
                    help=f"folder with the MNIST t10k IDX files (default: {DEFAULT_DATA} "
                         "if it exists)")
    ap.add_argument("--neurons", type=int, default=None, help="excitatory neurons (100)")
    ap.add_argument("--train", type=int, default=None, help="training images (1000)")
    ap.add_argument("--test", type=int, default=None, help="hold-out images (1000)")
    ap.add_argument("--label", type=int, default=None,
                    help="training images used to assign labels (default: all of them)")
    ap.add_argument("--epochs", type=int, default=1, help="passes over the training images")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 10 neurons, 20 training and 20 hold-out images "
                         "(unless given)")
    ap.add_argument("--batch", type=int, default=100,
                    help="images run side by side in the evaluation (100)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", default="auto", choices=("auto", "torch", "triton"))
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (1: the tensors are small)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", type=Path, default=None,
                    help="write the learned receptive fields to this PNG")
    ap.add_argument("--log-every", type=int, default=100,
                    help="progress line every N training images (0: none)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)
    quick = {"neurons": 10, "train": 20, "test": 20}
    full = {"neurons": 100, "train": 1000, "test": 1000}
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.label is None:
        args.label = args.train
    if min(args.neurons, args.train, args.test, args.label, args.epochs, args.batch) < 1:
        ap.error("--neurons, --train, --test, --label, --epochs and --batch must be >= 1")
    if args.label > args.train:
        ap.error("--label cannot exceed --train (labels come from training images)")
    if args.train + args.test > N_IMAGES:
        ap.error(f"--train + --test must be at most {N_IMAGES} (the MNIST test set)")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.data is None:
        if not DEFAULT_DATA.is_dir():
            ap.error(f"no MNIST folder at the default {DEFAULT_DATA}; pass --data PATH, a "
                     "folder with t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) "
                     "(nothing is downloaded)")
        args.data = DEFAULT_DATA
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _main(args)
    finally:
        torch.set_num_threads(threads)


def _main(args: argparse.Namespace) -> dict[str, Any]:
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    images, labels = load_mnist(args.data, split="test")
    (x_tr, y_tr), (x_te, y_te) = split(images, labels, args.train, args.test, seed=args.seed)

    t0 = time.perf_counter()
    model = DiehlCook(args.neurons, learning=True, seed=args.seed, backend=args.backend,
                      device=args.device)
    build_s = time.perf_counter() - t0
    say(f"Diehl & Cook 2015 on MNIST ({args.data}): {args.neurons} excitatory + "
        f"{args.neurons} inhibitory neurons, {len(x_tr)} training images x {args.epochs} "
        f"epoch(s), {args.label} labelling, {len(x_te)} hold-out; backend "
        f"{model.sim.backend_name} on {model.sim.device}, {torch.get_num_threads()} "
        f"thread(s); build {build_s:.2f} s")
    model.normalise()
    w_initial = model.weight_matrix()
    stats = train(model, x_tr, epochs=args.epochs, log_every=0 if args.quiet else args.log_every,
                  quiet=args.quiet)
    weights = model.weight_matrix()
    theta = model.theta[0].detach().cpu().double().numpy()
    say(f"training: {stats['seconds']:.1f} s, {stats['seconds_per_image']:.3f} s/image "
        f"({stats['presentations_per_image']:.2f} presentations of 350 ms each, "
        f"{stats['spikes_per_image']:.1f} excitatory spikes per image)")

    t0 = time.perf_counter()
    batch = min(args.batch, max(args.label, len(x_te)))
    frozen = DiehlCook(args.neurons, learning=False, seed=args.seed + 1,
                       backend=args.backend, device=args.device, batch=batch,
                       weights=model.w[0].detach().cpu().double().numpy(),
                       pairs=(model.pre, model.post), theta=theta)
    eval_build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    label_counts, label_runs = responses(frozen, x_tr[:args.label], batch)
    label_s = time.perf_counter() - t0
    assignments = assign_labels(label_counts, y_tr[:args.label])
    t0 = time.perf_counter()
    test_counts, test_runs = responses(frozen, x_te, batch)
    test_s = time.perf_counter() - t0
    pred = predict(test_counts, assignments)
    accuracy = float((pred == y_te).mean())
    train_acc = float((predict(label_counts, assignments) == y_tr[:args.label]).mean())
    per_digit = np.bincount(assignments[assignments >= 0], minlength=10)
    say(f"evaluation (static synapses, batch {batch}, build {eval_build_s:.2f} s): "
        f"labelling {label_s:.1f} s ({label_s / args.label:.4f} s/image, {label_runs} runs), "
        f"hold-out {test_s:.1f} s ({test_s / len(x_te):.4f} s/image, {test_runs} runs)")
    say(f"neurons per digit: {' '.join(str(int(c)) for c in per_digit)}"
        f"{f' ({int((assignments < 0).sum())} silent)' if (assignments < 0).any() else ''}")
    total = time.perf_counter() - t_start
    say(f"accuracy: {accuracy:.4f} on {len(x_te)} hold-out images ({train_acc:.4f} on the "
        f"labelling images); {total:.1f} s in all")
    if args.plot is not None:
        from snncc.plotting import weight_images

        path = weight_images(weights, (28, 28), args.plot,
                             title=f"Diehl & Cook: input weights after "
                                   f"{len(x_tr) * args.epochs} training images")
        say(f"receptive fields: {path}")
    return {"accuracy": accuracy, "labelling_accuracy": train_acc,
            "n_train": len(x_tr), "n_label": args.label, "n_test": len(x_te),
            "neurons": args.neurons, "epochs": args.epochs,
            "seconds_per_train_image": stats["seconds_per_image"],
            "seconds_per_label_image": label_s / args.label,
            "seconds_per_test_image": test_s / len(x_te), "total_seconds": total,
            "train": stats, "weights": weights, "initial_weights": w_initial,
            "theta": theta, "assignments": assignments, "predictions": pred}


if __name__ == "__main__":
    main()
