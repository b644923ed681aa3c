"""Corpus readers (IEMOCAP release layout, JSONL manifests) and the synthetic corpus."""

from bench.corpus.iemocap import read_iemocap
from bench.corpus.jsonl import read_jsonl
from bench.corpus.table import COLUMNS, Corpus

__all__ = ["COLUMNS", "Corpus", "read_iemocap", "read_jsonl"]
