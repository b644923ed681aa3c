"""bench: an ablation benchmark suite for streaming valence/arousal speech emotion models."""

__version__ = "0.1.0"
