"""The sync service (`occuloop sync`): a labeling tool's output folder becomes validated ClearML Dataset versions."""
