"""Integrations with other libraries, each behind its own extra.

May import the core, the providers and the session; never ``cli/`` or ``testing/``.
"""
