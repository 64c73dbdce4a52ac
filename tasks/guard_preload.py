"""Loads GiNZA on import. Only the worker processes' forkserver imports this (flows/pool.py).

Every worker then forks with the model already in memory, shared between them, instead of
spending ~2.4 s of CPU each loading its own copy at the start of a batch.
"""

import atexit
import gc
import os

from tasks.guard import warm_up

warm_up()
# The model's objects never change after loading: keep the children's garbage collector off
# them, so it neither spends time on them nor touches (and so copies) the shared pages.
gc.freeze()
# The server holds nothing to flush; tearing down the model's objects when it exits takes ~0.5 s,
# which a caller reading `teichaku run`'s output would wait for (the server shares its stdout).
atexit.register(os._exit, 0)
