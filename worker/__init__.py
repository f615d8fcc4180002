"""The entry points (docs/architecture.md): the `rapport` command (`cli/`), the service
(`service/`), one pipeline tick (`run/`) and the demo (`demo/`), over a top level that
holds only what they all share: the deployment settings (`settings`), failures as one
line and an exit code (`failures`), logging (`log`) and the relationship-analytics
admin settings (`admin_settings`). Calls go downward only: the CLI calls the service,
the run and the demo; the service and the demo call the run; all of them call the top
level, which calls none of them (tests/test_import_graph.py).
"""
