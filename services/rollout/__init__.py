"""Gate, receipts, model states, the champion pointer and the canary controller: `occuloop gate | promote | rollback |
rollout`."""
