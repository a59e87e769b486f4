"""vidwatch: watch QuickRouter AI video-generation jobs from the terminal."""

__version__ = "0.1.0"
