"""Exchanges teller buys SKY on for passthrough deposits (DESIGN.md §2)."""
