"""Reading the configuration: typed keys (`schema.py`), TOML + environment (`load.py`), the Go
teller's keys and messages (`go_compat.py`), file and port checks (`preflight.py`)."""
