"""`python -m backend` is `kiln-backend`."""
import sys

from backend.cli import main

sys.exit(main())
