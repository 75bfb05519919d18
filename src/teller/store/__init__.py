"""teller.store."""
