"""SNOOPI training: the procedural shapes domain, PG-SB distillation and export of the built-in default bundle.

This package is offline tooling (PyTorch), not part of the serving path; see training/README.md.
"""
