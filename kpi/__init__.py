"""Reporting: what the store says about time saved, adoption and use, shown to people.

metrics (KPI frames from the store), digest (the weekly mail, from jinja2 templates), mailer (SMTP
or an HTML file), catalog (the static prompt catalogue site).

May import: `tasks`, `core`. Never a flow: the compositions that feed a report live in `flows`.
"""
