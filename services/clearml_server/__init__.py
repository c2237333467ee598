"""The embedded ClearML-compatible server (`occuloop server`): API + file server over SQLite."""
