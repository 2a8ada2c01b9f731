"""On-demand benchmarks of lyra_mavera against raw aiohttp (``python -m benchmarks``)."""
