"""teller.http."""
