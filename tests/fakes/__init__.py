"""Fake hosted-LLM providers and a threaded uvicorn runner for end-to-end tests and benchmarks."""
