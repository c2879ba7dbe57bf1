"""site_builder: one client's history as a private, ephemeral MkDocs + Material site."""

from .errors import SiteError
from .ramdir import choose_base, create, sweep, wipe
from .site import BuiltSite, OpenSite, Timings, build_shared_site, build_site

__all__ = [
    "BuiltSite",
    "OpenSite",
    "SiteError",
    "Timings",
    "build_shared_site",
    "build_site",
    "choose_base",
    "create",
    "sweep",
    "wipe",
]
