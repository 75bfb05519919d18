"""teller.sim."""
