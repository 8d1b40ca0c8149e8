"""Channels: thin adapters that translate between a medium and the core's replies."""
