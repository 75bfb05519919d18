"""Reading the configuration: typed keys and defaults (`schema.py`), the TOML file and the
environment (`load.py`, pydantic-settings), the Go teller's keys, messages and durations
(`go_compat.py`, `durations.py`), the rules, file and port checks (`preflight.py`).

Imports point down: load → preflight → schema → go_compat → durations."""
