"""site_builder: one client's history as a private, ephemeral MkDocs + Material site.

All of `open` is here, on the vault's public reads: ``decrypt`` (two processes, the
newest notes first, the signatures checked while the passphrase is typed), ``site`` (the
timeline assembled, the pages generated and built), ``server`` and ``session`` (served
on 127.0.0.1 and wiped however it ends). They load on first use; the RAM-directory
sweep every command runs needs only ``ramdir``.
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
