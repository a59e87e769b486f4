"""The ``vidwatch`` command line.

- :mod:`vidwatch.cli.parser`: the parser and ``main`` (set up, dispatch, errors);
- :mod:`vidwatch.cli.commands`: what each command runs, its module imported only when it
  runs (``add``, ``list``, ``urls``… load neither the HTTP stack nor Textual);
- :mod:`vidwatch.cli.offline`: add, remove, list, urls, paths, export (no network);
- :mod:`vidwatch.cli.network`: poll, check, web, simulate;
- :mod:`vidwatch.cli.wait`: wait (also ``create``/``submit --wait``), printing as jobs finish;
- :mod:`vidwatch.cli.download`: download, with a progress bar per file;
- :mod:`vidwatch.cli.create`: create (one job from a prompt; it costs money);
- :mod:`vidwatch.cli.submit`: submit (a job per row of a batch file, never paid twice);
- :mod:`vidwatch.cli.output`: exit codes, the run's context, safe printing.

Exit codes (also in ``vidwatch --help`` and the README):
  0   success
  1   something the command was asked to do did not happen (an ID was rejected,
      a task could not be checked, a waited-for job failed, an ID to remove was
      not watched, a job was not created)
  2   ``wait`` timed out
  3   no API key, or the key was rejected
  4   the task list or config cannot be read or written
  5   the server could not be reached or gave no usable answer
  64  the command line itself is wrong (usage error)
  70  internal error (a bug; the log has the details)
  130 interrupted (Ctrl-C)
"""

from vidwatch.cli.output import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_STORE,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from vidwatch.cli.parser import build_parser, main

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_KEY",
    "EXIT_OK",
    "EXIT_STORE",
    "EXIT_TIMEOUT",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "build_parser",
    "main",
]
