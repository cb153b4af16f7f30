"""Sub-commands of `kiln-backend`, one module each (see backend/cli.py)."""
