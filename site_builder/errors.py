"""Typed errors of the site builder."""

from __future__ import annotations


class SiteError(Exception):
    exit_code = 1


class SiteBuildFailed(SiteError):
    def __str__(self) -> str:
        return f"the client's site could not be built ({self.args[0]}); nothing was left on disk: try again"


class BuildStopped(SiteError):
    """A signal asked the build to stop (it stops at its next page)."""

    def __str__(self) -> str:
        return "the site was stopped while it was being built"


class ExportRefused(SiteError):
    """An export the consent on file does not cover (or there is none): nothing written."""

    def __str__(self) -> str:
        return str(self.args[0])


class OutputNotPrivate(SiteError):
    """An existing output folder that another account could write into (or is not ours): it
    could swap a name in it for a link, and the plaintext would follow."""

    exit_code = 2

    def __str__(self) -> str:
        return (
            f"{self.args[0]} is a folder other accounts can write into, or not yours: name a new "
            "folder for the export, or one only you can write to (chmod 700)"
        )


class OutputNotEmpty(SiteError):
    exit_code = 2

    def __str__(self) -> str:
        return (
            f"{self.args[0]} is not empty: name a new or empty folder for the export (nothing is overwritten)"
        )
