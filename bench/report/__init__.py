"""``bench report``: statistics, tables and plots computed from the stored predictions.

- :mod:`bench.report.summary`: per-trial metrics, per-variant and per-fold summaries;
- :mod:`bench.report.bootstrap`: the paired hierarchical bootstrap of a CCC difference;
- :mod:`bench.report.stats`: every variant against the reference, Holm-corrected;
- :mod:`bench.report.analysis`: all of the above for one protocol of a results store;
- :mod:`bench.report.tables`, :mod:`bench.report.plots`: Markdown/LaTeX tables, figures;
- :mod:`bench.report.command`: the ``bench report`` command.
"""
