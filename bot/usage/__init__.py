"""Pricing, cost computation and the usage ledger."""
