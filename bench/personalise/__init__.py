"""``bench personalise``: few-shot speaker personalisation of trained trials (issue 14).

- :mod:`bench.personalise.config`: the ``personalise:`` block (modes, k, steps, lr);
- :mod:`bench.personalise.enrolment`: which turns of a speaker enrol and which are scored;
- :mod:`bench.personalise.adapt`: adapting the declared parameters on enrolment turns;
- :mod:`bench.personalise.rows`: the adapted layers with a copy per batch row (many
  adaptations in one rollout);
- :mod:`bench.personalise.trial`: one trained trial, every speaker, mode and k;
- :mod:`bench.personalise.store`: ``.../seed<s>/personalise/<adapt>/``;
- :mod:`bench.personalise.run`: the library API, :func:`bench.personalise.run.personalise_grid`.
"""
