"""The gateway: the only public door of Wafaa AI Concierge."""
