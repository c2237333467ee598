"""occuloop's long-running processes: the embedded ClearML server and (later) sync, trigger and rollout."""
