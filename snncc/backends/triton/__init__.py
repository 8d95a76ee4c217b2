"""The Triton backend: fused per-population kernels and event-driven synaptic kernels
(:mod:`.codegen`), printed by :mod:`.printer`, launched with the sizes of :mod:`.launch`."""
