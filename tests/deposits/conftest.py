"""Fixtures of the deposits tests: the recorded deposit pipeline (tests/pipeline.py)."""

from tests.pipeline import both, pipeline

__all__ = ["both", "pipeline"]
