"""``python -m sk_ieg bench ...`` and ``python -m sk_ieg clean ...``."""

import sys

from sk_ieg.cli import main

sys.exit(main())
