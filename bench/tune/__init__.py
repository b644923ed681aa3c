"""``bench tune``: an equal-budget hyperparameter search for every variant (Ray Tune or
local), its store under ``tuning/``, and ``bench run --tuned``.

- :mod:`bench.tune.space`: the search space and its Sobol configurations;
- :mod:`bench.tune.asha`: the early-stopping rule of the local executor;
- :mod:`bench.tune.trainable`: what a tuning worker runs (one configuration, epoch by epoch);
- :mod:`bench.tune.executors`: the ``local`` and ``ray`` search executors;
- :mod:`bench.tune.store`: ``tuning/<protocol>/<variant>/fold<k>/``;
- :mod:`bench.tune.search`: the library API, :func:`bench.tune.search.tune_grid`;
- :mod:`bench.tune.apply`: the chosen configurations in ``bench run --tuned``.
"""
