"""The `rapport` command line: one module per command group, sharing one module
of options and renderers (`output`).

Every command has one shape: parse its options, take the settings from the typer
context, call one function that returns plain data (`commands`,
`compliance_commands`, `insights_commands`), then print that data as JSON or as
a terminal rendering (`output`). `rapport.py` assembles the groups and turns any
failure into one line and an exit code.
"""
