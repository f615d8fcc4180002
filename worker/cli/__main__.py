"""`python -m worker.cli ...`: the `rapport` command, for a checkout without the entry point."""

from worker.cli.rapport import main

main()
