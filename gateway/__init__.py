"""A data-governance gateway for hosted LLM APIs."""

__version__ = "0.1.0"
