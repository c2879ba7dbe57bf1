"""What a practitioner does with colleagues, on top of the store: ``access`` (grant, and
revoke by key rotation), ``consent`` (consent records sealed with the client), ``share``
(signed bundles for a colleague) and ``supervision`` (co-signatures). Imports
``vault.store`` and below; nothing in the vault imports it.
"""
