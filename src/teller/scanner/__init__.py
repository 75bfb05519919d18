"""teller.scanner."""
