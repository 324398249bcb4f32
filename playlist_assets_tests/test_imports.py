"""Loading the assets stays light: scikit-learn and matplotlib load only where work needs them.

Every Dagster process loads the definitions (the UI's code server, the daemon, each run), and
most never cluster or draw in-process; those imports cost seconds there.
"""

import subprocess
import sys

HEAVY = ("sklearn", "scipy", "matplotlib")


def test_loading_the_definitions_imports_neither_scikit_learn_nor_matplotlib():
    probe = (
        "import sys, playlist_assets.definitions; "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
