"""teller.coins."""
