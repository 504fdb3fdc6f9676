"""`python -m profiler` runs the finwatt CLI."""

from profiler.cli import main

main()
