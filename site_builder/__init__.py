"""site_builder: one client's history as a private, ephemeral MkDocs + Material site.

Building and serving (``site``: MkDocs, the server, the page generators) load on first
use; the RAM-directory sweep every command runs needs only ``ramdir``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import SiteError
from .ramdir import choose_base, create, sweep, wipe

if TYPE_CHECKING:
    from .site import BuiltSite, OpenSite, Timings, build_shared_site, build_site, check_ahead
    from .staged_build import warm_up

_LAZY = {
    **{
        name: ".site"
        for name in ("BuiltSite", "OpenSite", "Timings", "build_shared_site", "build_site", "check_ahead")
    },
    "warm_up": ".staged_build",
}

__all__ = [
    "BuiltSite",
    "OpenSite",
    "SiteError",
    "Timings",
    "build_shared_site",
    "build_site",
    "check_ahead",
    "choose_base",
    "create",
    "sweep",
    "warm_up",
    "wipe",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
