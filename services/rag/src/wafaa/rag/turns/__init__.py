"""Turns: debouncing quick messages and answering them once."""
