"""Answering a turn: language, handoff intents, prompts, and the LLM gateways."""
