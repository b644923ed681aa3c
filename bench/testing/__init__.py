"""Fixtures for tests and benchmarks: small stand-ins for corpora and pretrained models.

Nothing in the pipeline imports this package; ``tests/`` and ``benchmarks/`` do.
"""
