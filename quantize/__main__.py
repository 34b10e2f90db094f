"""`python -m moshi_quantize` = `moshi-quantize`."""

import sys

from .cli import main

sys.exit(main())
