"""Benchmarks (not tests): a real `teichaku run` against the local OpenAI-compatible server with
fixed latency. May import everything, including the test doubles in `tests.support`."""
