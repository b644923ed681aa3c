"""``bench report``: statistics, tables and plots computed from the stored predictions.

- :mod:`bench.report.summary`: per-trial metrics, per-variant and per-fold summaries;
- :mod:`bench.report.bootstrap`: the paired hierarchical bootstrap of a CCC difference,
  with its TOST equivalence p-value;
- :mod:`bench.report.nadeau_bengio`: the fold-level (Nadeau-Bengio corrected) t-test;
- :mod:`bench.report.meta`, :mod:`bench.report.runs_t`: the verdict tests, HKSJ over test
  sessions and the t-test over the training runs on fixed test sets;
- :mod:`bench.report.comparison`, :mod:`bench.report.comparisons`: what a comparison test
  is, and the registry of those the report runs (adding one: a module plus one line);
- :mod:`bench.report.stats`: every variant against the reference, Holm-corrected within
  the primary and secondary families, with a verdict;
- :mod:`bench.report.analysis`: all of the above for one protocol of a results store;
- :mod:`bench.report.tables`, :mod:`bench.report.plots`: Markdown/LaTeX tables, figures;
- :mod:`bench.report.command`: the ``bench report`` command.
"""
