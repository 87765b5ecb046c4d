"""Kernel facilities that confine the per-request helper process, one module per facility.

`confine.confine` applies them in order; the other modules are its building blocks.
"""
