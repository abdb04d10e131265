"""Signal handling of a command started by a test as a terminal would start it."""

from __future__ import annotations

import signal


def default_signal_handling() -> None:
    """`preexec_fn` of a command a test stops with Ctrl-C or SIGTERM: SIGINT and SIGTERM back to their defaults.

    A test runner started as a non-interactive shell's background job (`cmd &` in a script) ignores SIGINT, and
    a child inherits that: Python then installs no KeyboardInterrupt handler, so a Ctrl-C the test sends is
    lost (seen: `ingest` finished with 0 instead of 130, `run` never stopped), and `dagster dev` (which maps
    SIGTERM to SIGINT's handler) would ignore SIGTERM as well. A terminal starts commands with the defaults."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
