"""A module that takes a second to import, as scikit-learn and matplotlib take seconds: a
worker pool preloading it has workers that are still starting for that long."""

import time

time.sleep(1.0)
