"""Block loops: follow each chain, count confirmations, survive reorgs, hand deposits to intake."""
