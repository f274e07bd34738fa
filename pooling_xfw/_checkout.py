"""``pooling_xfw.adapters`` when this package is imported straight from a source checkout.

The adapters sit at the top of the source tree (``adapters/``) and are installed as
``pooling_xfw.adapters`` through setuptools' ``package-dir`` mapping (a top-level ``adapters`` is
another project's name on the package index).  A script run with the checkout on its path (the
examples and benchmarks re-executed under a backend's interpreter) has no installer to do that
mapping, so this finder does it for that one name, and only when no installed copy exists.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

NAME = "pooling_xfw.adapters"
_PACKAGE = Path(__file__).resolve().parent
_TOP_OF_TREE = _PACKAGE.parent / "adapters"


class _CheckoutAdapters(importlib.abc.MetaPathFinder):
    """Finds ``pooling_xfw.adapters`` at ``<checkout>/adapters``; its modules follow from there."""

    def find_spec(self, name, path=None, target=None):
        if name != NAME:
            return None
        return importlib.util.spec_from_file_location(
            name, _TOP_OF_TREE / "__init__.py", submodule_search_locations=[str(_TOP_OF_TREE)])


def map_adapters() -> None:
    """Register the finder (last, so an installed or editable copy always wins) in a checkout."""
    in_checkout = (_TOP_OF_TREE / "__init__.py").is_file() and not (_PACKAGE / "adapters").is_dir()
    if in_checkout and not any(isinstance(f, _CheckoutAdapters) for f in sys.meta_path):
        sys.meta_path.append(_CheckoutAdapters())
