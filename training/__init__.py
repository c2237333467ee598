"""Shared code of training and serving: data contract, features, model, training task, evaluation."""
