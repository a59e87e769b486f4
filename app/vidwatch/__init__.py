"""vidwatch: watch QuickRouter AI video-generation jobs from the terminal."""

import logging

__version__ = "0.1.0"

# A library-style default: nothing reaches stderr (and a dashboard) unless the CLI
# sets up the log file.
logging.getLogger("vidwatch").addHandler(logging.NullHandler())
