"""Detectors: small declarative classes, each finding one family of sensitive data."""
