"""``python -m sk_ieg bench ...``."""

import sys

from sk_ieg.cli import main

sys.exit(main())
