"""`python -m teichaku` is the same as the `teichaku` command."""

from teichaku.cli import main

main()
