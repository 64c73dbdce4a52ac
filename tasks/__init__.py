"""The steps: one module (or package) per step, each a plain typed function that a test calls
directly and a flow composes.

discover (ready files in the inboxes), extract/ (one reader per format behind one contract and a
registry), guard/ (what must not leave the machine), generate/ (the model engines behind the
`core.engine.Engine` protocol), render (the draft), publish (atomic writes, archive, quarantine),
feedback (verdicts from the 採用/不採用 folders).

May import: `core` (and other step modules, never a composition). Imported by: kpi, flows.
"""
