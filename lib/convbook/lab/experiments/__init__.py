"""The book's reference experiments: one module each, run by ``python -m convbook.lab.experiments NAME``.

What a module declares (``DESCRIPTION``, ``RESULT_VERSION``, ``Settings``, ``Results``, ``run``, and optionally
``add_arguments`` and ``variant``), the file it writes and how a chapter reads it back are described in
:mod:`convbook.lab.results`; this package only finds the experiments.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["available", "describe", "module"]


def available() -> list[str]:
    """The names of the experiments: the modules of this package (private helpers start with ``_``)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def module(name: str):
    """The module of experiment ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"module: name must be a str, got {type(name).__name__}")
    if name not in available():
        raise ValueError(f"module: name must be one of {', '.join(available())}; got {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


def describe(name: str) -> str:
    """The experiment's one-line description."""
    return module(name).DESCRIPTION
