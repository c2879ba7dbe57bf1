"""retention: policies, due dates, legal holds and crypto-shredding (not built yet)."""
