"""Paying SKY exactly once: the sender (sign, store, broadcast, confirm) and its payers."""
