"""The trigger service: exactly one training run for every new Production dataset version (`occuloop trigger`)."""
