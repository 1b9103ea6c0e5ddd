"""Stages 7 and 8: destinations and the shared HTTP client that reaches them."""
