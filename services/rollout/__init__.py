"""Gate, receipts, model states and the champion pointer (issue 7): `occuloop gate | promote | rollback`."""
