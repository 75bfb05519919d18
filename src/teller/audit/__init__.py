"""The independent audit: teller's books checked against the chain nodes and the exchange
(checks.py compares, loop.py runs it every `audit.interval`). Read-only, off the money path."""
