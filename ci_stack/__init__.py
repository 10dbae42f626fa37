"""ci-stack: a self-hosted git + CI + registry stack on one Docker host, in one command."""

__version__ = "0.1.0"
