"""The retention plugin: purge interceptions older than ``--aibridge-retention``."""
