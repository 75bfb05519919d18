"""Simulated peers for teller's demos and tests (btcd, Skycoin node, C2CX), each run as its own
process (`teller-sim`). Never imported by teller."""
