"""digest: builds a sectioned newsletter digest from news pages and mails it to subscribers."""

__version__ = "0.1.0"
