"""CLI command modules; importing one registers its commands on teichaku.app.app."""
