"""The audit plugin: read recorded interceptions and usage back, over HTTP and from the CLI."""
