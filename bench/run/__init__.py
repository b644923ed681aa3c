"""``bench run``: plan the variant x fold x seed trials, execute them, store the results."""
