"""Frozen per-utterance features (speech, prosody, speaker), extracted once and cached.

- :mod:`bench.features.extract`: ``extract_features(table, features_cfg)`` fills the stores;
- :mod:`bench.features.load`: ``load_features(table, features_cfg)`` reads them as a
  ``FeatureSet`` (role -> ``[N, d]`` float32 plus ``.valid[role]`` masks);
- :mod:`bench.features.config`: the protocol's ``features:`` block (``parse_features_config``);
- :mod:`bench.features.store`: the cache; one module per extractor;
- :mod:`bench.features.hub`: where a model's weights load from (folder, hub cache, hub).

The package itself imports nothing heavy, so ``bench --help`` stays fast.
"""
