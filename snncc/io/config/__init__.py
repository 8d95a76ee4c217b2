"""Networks described in YAML or JSON: load, save, sweeps.

A config is a mapping with these sections (all optional but ``groups``)::

    version: 1
    network: {name: cuba, dt: "0.1*ms", seed: 0}
    models:                       # reusable models (a group may also name a library model)
      mylif: {equations: "dv/dt = (El - v)/tau : volt", threshold: "v > Vt",
              reset: "v = Vr", refractory: "5*ms", params: {tau: "10*ms", ...}}
      stdp:  {kind: synapse, equations: "...", on_pre: "...", on_post: "..."}
    groups:
      P:   {size: 4000, model: cuba, params: {...}, init: {v: "Vr + rand()*(Vt - Vr)"}}
      inp: {kind: poisson, size: 100, rates: "15*Hz"}
      gen: {kind: generator, size: 2, indices: [0, 1], times: {values: [1, 2], unit: ms}}
    connections:
      Ce: {pre: "P[0:3200]", post: P, p: 0.02, on_pre: "ge += we", params: {we: "1.62*mV"}}
    monitors:
      spikes: {kind: spike, source: P}
      vm:     {kind: state, source: P, variables: [v], record: [0, 1]}
      rate:   {kind: rate, source: P}
    run: {duration: "1*second", chunk: "100*ms", backend: auto, device: cpu,
          dtype: float32, batch: 1}
    sweep:
      grid: {groups.P.params.tau: ["10*ms", "20*ms"]}   # Cartesian product
      zip:  {connections.Ce.p: [0.01, 0.02],            # varied together
             connections.Ci.p: [0.01, 0.02]}

Values: numbers (bare times mean ms, bare rates Hz, as in the Python API), quantity
strings (``"20*mV"``, ``"[1, 2]*ms"``), lists, ``{values: [...], unit: mV}``,
``{npz: file.npz, key: ..., unit: ...}`` (a sidecar array, path relative to the config
file) and, for per-neuron values, distributions drawn deterministically from the network
seed and the value's config path: ``{dist: uniform, low, high}``, ``{dist: normal, mean,
std}``, ``{dist: lognormal, mean, std}``, ``{dist: choice, values, p}``. Where expression
strings are allowed (``init``, ``weight``, ``delay``, ``rates``, ``refractory``), a string
that is not a plain quantity is an expression; ``{expr: "..."}`` forces one.

Assemblies (:mod:`snncc.frontend.assembly`) are listed, parents first, under
``assemblies:``; a member of one is named by its path in its section, and references
(``pre``, ``post``, ``source``, ``target``) use paths too::

    assemblies:
      l1: {}                      # an Assembly at the top level of the network
      l1.sub: {hidden: true}      # nested in l1, hidden (assembly_hide)
    groups:
      l1.exc: {size: 80, model: lif, types: [exc]}
      l1.sub.inh: {size: 20, model: lif, hidden: true}   # any object can be hidden
      img: {kind: encoder, shape: [1, 8, 8], coding: poisson}
      fmap: {size: 72, model: lif, shape: [2, 6, 6]}
    connections:
      l1.ei: {pre: l1.exc, post: l1.sub.inh, on_pre: "v += 1*mV"}
      conv: {pre: img, post: fmap, link_type: conv, kernel_size: 3, on_pre: "v += w*mV",
             w_init: kaiming_uniform, w_init_param: {a: 0.0, mode: fan_in,
                                                     nonlinearity: leaky_relu}}
      proj: {kind: projection, pre: l1, post: l2, p: 0.1, on_pre: "v += 0.5*mV",
             policies: [{kind: included_type, pre: [exc]},
                        {kind: excluded_type, post: [inh]},
                        {kind: index, pairs: [[0, 0], [1, 0]]}]}

The order of each section is the network's (depth first), so a loaded network builds
its objects in the same order and simulates identically. An ``Assembly`` subclass is
written as a plain assembly with its members (loading gives ``Assembly`` objects with the
same members, names and paths). Weights drawn by an initializer (``w_init``/``weight=
sc.init...``) are written as ``w_init``, ``w_init_param``, ``w_unit``, not as samples, so
the seed draws them again; a convolution as ``link_type: conv`` with ``kernel_size``,
``stride`` and ``padding``; ``link_type: sparse`` with ``density`` reads as ``p``.

New object kinds plug in with :func:`register_kind`.

Modules: ``files`` (YAML/JSON, ``npz`` sidecars), ``quantities``, ``registry`` (object
kinds, key checks), ``load``/``save`` (the value contexts), ``models``, the codecs
``groups``, ``synapses``, ``monitors``, ``nodes``, ``assemblies``, ``build``
(:func:`load_config`), ``run`` (the ``run:`` section) and ``sweeps``.
"""

from __future__ import annotations

from snncc.io.config import assemblies, groups, monitors, nodes, synapses
from snncc.io.config.build import load_config, load_run, locate_error
from snncc.io.config.files import (
    FORMAT_VERSION,
    dump_text,
    npz_files,
    read_config,
    relocate_npz,
)
from snncc.io.config.load import LoadContext
from snncc.io.config.quantities import format_quantity, parse_quantity
from snncc.io.config.registry import (
    OBJECT_SECTIONS,
    SHARED_ATTRIBUTES,
    ObjectKind,
    check_keys,
    kinds,
    register_kind,
)
from snncc.io.config.run import RunSettings, run_settings
from snncc.io.config.save import SaveContext, network_to_config, save_config
from snncc.io.config.sweeps import expand_sweeps

__all__ = [
    "FORMAT_VERSION", "OBJECT_SECTIONS", "SHARED_ATTRIBUTES", "LoadContext", "ObjectKind",
    "RunSettings", "SaveContext",
    "check_keys", "dump_text", "expand_sweeps", "format_quantity", "kinds", "load_config",
    "load_run", "locate_error", "network_to_config", "npz_files", "parse_quantity",
    "read_config", "register_kind", "relocate_npz", "run_settings", "save_config",
]


def _register_builtins() -> None:
    """Register the built-in object kinds once, in the order :func:`kinds` lists them
    (a class a later kind also matches is saved as that later kind)."""
    for codecs in (groups, synapses, monitors, nodes, assemblies):
        codecs.register()


_register_builtins()
