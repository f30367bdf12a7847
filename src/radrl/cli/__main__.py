"""``python -m radrl.cli``: the same as ``radrl``."""

import sys

from radrl.cli import main

sys.exit(main())
