"""``python -m rfbench ...`` (and ``torchrun --nproc_per_node=G -m rfbench run ...``): the CLI."""

import sys

from .cli import main

sys.exit(main())
