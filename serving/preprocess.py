"""What clearml-serving stores with every occupancy version and loads by path: an entry point, no logic.

The engine is `serving.engine.Engine`, shipped in the serving image; this file only asks for it, naming the entry
point version it was written for, so that every version runs the image's engine and a version whose stored entry
point no longer fits is refused at load (serving/engine.py says why). Absolute imports only: clearml-serving loads
this file as a module named `Preprocess`, outside any package.
"""

from serving.engine import engine_for

Preprocess = engine_for(1)  # serving.engine.ENTRY_POINT_VERSION when this version was registered
