"""The ground floor: what every other package stands on.

Settings (the one module that reads the environment), the typed data passed between steps
(models), errors and refusal reasons, the spec schema and loader, jinja2 templating for specs,
the workspace's folder layout, the store (SQLAlchemy, with its Alembic migrations) and the
forkserver context that child processes fork from.

May import: nothing of ours except `prompt_specs` (data). Everything else imports this.
"""
