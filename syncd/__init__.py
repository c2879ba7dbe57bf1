"""syncd: the watchdog daemon that seals every save (issue 3, not built yet)."""
