"""A deposit's life: statuses (`states.py`), intake from the scanners, address binding, and the
direct (fixed-rate) decision."""
