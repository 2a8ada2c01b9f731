"""Helpers for users' test suites: testing mode (no waits) and, soon, a fake server."""

from .._retry import is_testing, set_testing, testing_mode

__all__ = ["is_testing", "set_testing", "testing_mode"]
