"""The `teichaku` command line, on top of everything: app.py (the typer application and the
helpers every command shares), cli.py (the entry point), commands/ (one module per area).

May import: every package below (deployments, flows, kpi, tasks, core). Nothing imports it.
"""
