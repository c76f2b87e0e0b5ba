"""carpswitch: failover controller for two-node HAST + CARP storage on FreeBSD.

Importing the package turns pydantic's plugins off for this process: pydantic looks for
plugins (entry points of group `pydantic`, e.g. an observability tool's validation hooks)
the first time it builds a model, in pydantic/plugin/_loader.py, whose `from
importlib.metadata import entry_points` alone costs every carpswitch command ~30 ms of CPU
and ~2 MB of RSS (importlib.metadata pulls in email, zipfile, csv...). Its documented switch,
PYDANTIC_DISABLE_PLUGINS, skips only the scan, not that import. carpswitch wants no
third-party code inside the validation of its config and state, so an import finder first
on sys.meta_path answers for that one module with a loader whose `get_plugins()` finds
none. Nothing is imported until pydantic asks (the devd hook never does), and a pydantic
imported before carpswitch keeps its own loader.
"""

from __future__ import annotations

import sys

__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

PYDANTIC_PLUGIN_LOADER = "pydantic.plugin._loader"


def _no_plugins() -> tuple[()]:
    """pydantic's `get_plugins()`: none."""
    return ()


class _NoPydanticPlugins:
    """Finder and loader of PYDANTIC_PLUGIN_LOADER (see the module docstring)."""

    @classmethod
    def find_spec(
        cls, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != PYDANTIC_PLUGIN_LOADER:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(fullname, cls)  # type: ignore[arg-type]  # a loader by protocol

    @staticmethod
    def create_module(spec: ModuleSpec) -> None:
        """The default module."""

    @staticmethod
    def exec_module(module: ModuleType) -> None:
        module.__dict__["get_plugins"] = _no_plugins


sys.meta_path.insert(0, _NoPydanticPlugins)
