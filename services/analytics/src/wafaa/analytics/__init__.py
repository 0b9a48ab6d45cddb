"""Wafaa analytics: sentiment, intents, response times and rollups."""
