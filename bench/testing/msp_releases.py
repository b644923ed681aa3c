"""Both MSP release fixtures with their features extracted, as the tests share them.

:func:`write_msp_releases` writes a small MSP-Podcast and a small MSP-IMPROV release under one
folder, extracts the :data:`OFFLINE` features of each into one cache there, and describes what
it wrote in ``fixtures.json``, so that :func:`read_msp_releases` (another process: a
pytest-xdist worker) can take them up without writing them again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.corpus.prepare import prepare_corpus
from bench.features.extract import extract_features
from bench.protocol import load_protocol
from bench.testing.msp_improv import ImprovFixture, write_msp_improv
from bench.testing.msp_podcast import PodcastFixture, write_msp_podcast

# The extractors that need no hub download, for protocols whose defaults are hub models.
OFFLINE = ["features.speech.extractor=logmel", "features.speaker.extractor=resemblyzer"]

DESCRIPTION = "fixtures.json"


@dataclass(frozen=True)
class MspReleases:
    """Both MSP release fixtures, and one feature cache with the :data:`OFFLINE` features of
    each (``features.cache_dir=<features>``)."""

    podcast: PodcastFixture
    improv: ImprovFixture
    features: Path


def write_msp_releases(folder: Path) -> None:
    """Write both releases under ``folder`` (``podcast/``, ``improv/``), extract their
    :data:`OFFLINE` features into ``folder/features`` and describe them for
    :func:`read_msp_releases`."""
    made = {"podcast": write_msp_podcast(folder / "podcast"),
            "improv": write_msp_improv(folder / "improv")}  # fmt: skip
    for name, fixture in made.items():
        overrides = [f"corpus.root={fixture.root}", f"features.cache_dir={folder / 'features'}"]
        protocol = load_protocol(f"msp_{name}", [*overrides, *OFFLINE])
        table = prepare_corpus(protocol.corpus, progress=False).table
        extract_features(table, protocol.features, workers=1, progress=False)
    described = {name: {**asdict(f), "root": str(f.root)} for name, f in made.items()}
    (folder / DESCRIPTION).write_text(json.dumps(described))


def read_msp_releases(folder: Path) -> MspReleases:
    """The releases :func:`write_msp_releases` wrote under ``folder``, from its description."""
    described = json.loads((folder / DESCRIPTION).read_text())
    podcast, improv = ({**described[name], "root": Path(described[name]["root"])}
                       for name in ("podcast", "improv"))  # fmt: skip
    return MspReleases(
        podcast=PodcastFixture(**podcast),
        improv=ImprovFixture(**improv),
        features=folder / "features",
    )
