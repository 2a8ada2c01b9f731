"""``python -m lyra_mavera``: the command line."""

from .cli import main

main()
