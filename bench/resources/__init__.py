"""Where the shipped YAML folders are: ``variants/`` and ``protocols/``.

Both folders live at the top of the repository, where users edit them. A non-editable
install copies them into this package (``bench/resources/variants``, ``.../protocols``;
see ``package-dir`` in pyproject.toml), so an installed ``bench`` finds them without the
checkout. In a checkout (or an editable install) that copy does not exist, and the
repository's folders are used.

>>> (variants_dir() / "base.yaml").is_file(), (protocols_dir() / "synthetic.yaml").is_file()
(True, True)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def shipped_dir(name: str) -> Path:
    """The installed copy of the top-level folder ``name``, else the repository's folder."""
    installed = resources.files(__name__) / name
    if installed.is_dir():
        return Path(str(installed))
    return REPOSITORY / name


def variants_dir() -> Path:
    """The folder of variant files (``base.yaml``, ``<variant>.yaml``, ``grids/``)."""
    return shipped_dir("variants")


def protocols_dir() -> Path:
    """The folder of protocol files (``<protocol>.yaml``)."""
    return shipped_dir("protocols")
