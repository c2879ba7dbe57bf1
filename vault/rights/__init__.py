"""A client's rights, kept by the vault: requests with their legal clocks, the accounting of
disclosures, amendment decisions, and who read the record.

Every rights record is one entry of the signed, hash-chained audit log (so nothing here
writes a file of its own, and each record is audited by being written): its ids in the
clear, its dates and accounting sealed under the retention key so that `todo` and `doctor`
read the clocks without a passphrase, and its words sealed to the client's key so that
they go with the client (vault/format/rights.py). ``requests`` (the clocks),
``disclosures`` (the accounting), ``access_report`` (who opened what, when) and
``amendments`` (accept, deny, disagreement); ``reading``, the signed entries they read.
Imports ``vault.store`` and below.
"""
