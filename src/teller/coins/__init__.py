"""Per-coin address and key code: SKY (addresses, deterministic keys), BTC, ETH.

Pure functions with no I/O; nothing here imports the rest of teller, so the HTTP layer, the
scanners, the payer and the CLI can all depend on it.
"""

from typing import Final

COIN_TYPES: Final = ("BTC", "ETH", "SKY")  # every coin teller knows, in the order it lists them
