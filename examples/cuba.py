"""Brian2's CUBA network in snncc: 4000 current-based LIF neurons, 80 synapses each.

    python examples/cuba.py            # CUBA_N=400 python examples/cuba.py for a quick run
"""

import os

import snncc as sc
from snncc.units import ms, mV, second

N = int(os.environ.get("CUBA_N", 4000))  # neurons; 80 synapses per neuron at any size
P_CONNECT = min(1.0, 80 / N)
DURATION = float(os.environ.get("CUBA_DURATION", 1.0)) * second

net = sc.Network(dt=0.1 * ms, seed=0)
with net:
    P = sc.NeuronGroup(N, model="cuba", init={"v": "Vr + rand()*(Vt - Vr)"})
    Ce = sc.Connection(P[:int(0.8 * N)], P, p=P_CONNECT, on_pre="ge += we",
                       params={"we": (60 * 0.27 / 10) * mV})
    Ci = sc.Connection(P[int(0.8 * N):], P, p=P_CONNECT, on_pre="gi += wi",
                       params={"wi": (-20 * 4.5 / 10) * mV})
    spikes = sc.SpikeMonitor(P)
    vm = sc.StateMonitor(P, "v", record=[0, 1])

sim = net.compile(backend="torch", device="cpu")  # device="cuda" on a GPU
print(sim.describe())
sim.run(DURATION)
rate = spikes.num_spikes / N / float(DURATION / second)
print(f"{spikes.num_spikes} spikes, {rate:.2f} Hz; {sim.last_run_seconds:.2f} s wall")
print(f"v of neuron 0 at the end: {vm.v[0, -1]}")
