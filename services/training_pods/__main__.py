"""`python -m services.training_pods ...` — works before (and besides) an `occuloop training-pods` subcommand."""

import sys

from .command import main

sys.exit(main())
