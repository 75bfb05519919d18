"""Tests of the simulators shipped in teller.sim."""
