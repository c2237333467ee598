"""occuloop's long-running processes and commands: the embedded ClearML server, sync, trigger, rollout, training pods."""
