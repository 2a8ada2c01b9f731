"""Integrations with other libraries, each behind its own extra (``arq``: follow bots
from a fleet of arq workers).

May import anything in the package but ``cli/``.
"""
