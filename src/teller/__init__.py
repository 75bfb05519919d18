"""teller: sell Skycoin for Bitcoin and Ether."""

__version__ = "0.1.0"
