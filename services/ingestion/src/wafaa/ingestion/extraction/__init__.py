"""Turning uploaded files into typed text elements, in a sandboxed child process."""
