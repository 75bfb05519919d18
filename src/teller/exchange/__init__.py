"""teller.exchange."""
