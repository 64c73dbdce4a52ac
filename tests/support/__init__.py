"""Test doubles and document builders, kept out of the product: the OpenAI-compatible HTTP server
(fake_endpoint), the SMTP server (smtp_server), document builders (builders, samples) and helpers
for service-level tests (service_helpers). `bench/` may import these; no shipped package may."""
