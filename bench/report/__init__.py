"""``bench report``: statistics, tables and plots computed from the stored predictions.

- :mod:`bench.report.summary`: per-trial metrics, per-variant and per-fold summaries;
- :mod:`bench.report.bootstrap`: the paired hierarchical bootstrap of a CCC difference,
  with its TOST equivalence p-value;
- :mod:`bench.report.nadeau_bengio`: the fold-level (Nadeau-Bengio corrected) t-test;
- :mod:`bench.report.stats`: every variant against the reference, Holm-corrected within
  the primary and secondary families, with a verdict;
- :mod:`bench.report.analysis`: all of the above for one protocol of a results store;
- :mod:`bench.report.tables`, :mod:`bench.report.plots`: Markdown/LaTeX tables, figures;
- :mod:`bench.report.command`: the ``bench report`` command.
"""
