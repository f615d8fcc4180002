"""The `rapport` command line: one module per command group, assembled by `rapport.py`,
sharing one module of options and renderers (`output`).

Every command has one shape: parse its options, take the settings and the store from
the typer context (`context`), call one function that returns plain data, then print
that data as JSON or as a terminal rendering (`output`). The work is in `commands`,
`compliance_commands` and `insights_commands`, or, for a small group, beside its
commands (`introducers`, `introduction_draft`, `deals`, `news`, `exchange`). A group
module imports its work inside each command, so `--help` and `--version` load no store,
settings or scoring (tests/test_cli_startup.py). `rapport.py` turns any failure into
one line and an exit code (worker/failures.py).
"""
