"""Simulated peers for teller's demos and tests (btcd, Skycoin node, C2CX). Never imported by teller."""
