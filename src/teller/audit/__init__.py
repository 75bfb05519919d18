"""The independent audit: teller's books checked against the chain nodes and the exchange
(checks.py compares, loop.py runs it every `audit.interval`). Off the money path: it reads,
and writes only the hold of an unknown spend from the hot wallet (loop.py says why)."""
