"""site_builder: one client's timeline as an ephemeral MkDocs site (not built yet)."""
