"""Integrations with other libraries, each behind its own extra (``arq``: follow bots
from a fleet of arq workers; ``temporal``: durable per-bot workflows).

May import the core, the providers and the session; never ``cli/`` or ``testing/``.
"""
