"""clearml-serving engine code and endpoint setup for the occupancy model."""
