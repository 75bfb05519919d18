"""Payers: what pays SKY out. `base.py` is the interface the sender uses; `dummy.py` the fake."""
