"""Wafaa channel sender: delivers replies on WhatsApp and Instagram."""
