"""Buying the SKY on the exchange first: walk the book (`plan.py`), place and follow orders
(`orders.py`), quotes (`quote.py`)."""
