"""Shared contracts and plumbing for every Wafaa service. Imports no service."""
