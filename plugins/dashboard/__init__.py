"""The dashboard plugin: web pages of sessions, requests and usage, the admin pages, and the sessions API."""
