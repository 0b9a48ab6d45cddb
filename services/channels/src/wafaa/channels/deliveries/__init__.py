"""Outbound deliveries of replies."""
