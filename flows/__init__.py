"""The compositions, and the only place steps are put together.

document (one document from file to draft: the path the intake, the watcher and `specs test`
share), pool (worker processes for the CPU-heavy halves), batch (one intake batch, composed once,
run directly or by Prefect), intake (the Prefect flow), watch (the folder watcher), digest (the
weekly digest job, one plain function the Prefect flow and the CLI both call), spec_examples
(a spec's examples through the document path).

May import: `kpi`, `tasks`, `core`. Imported by: deployments and the CLI.
"""
