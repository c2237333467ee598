"""The sync, trigger and rollout services as ClearML service tasks run by clearml-agent in services mode."""
