"""Wire formats: OpenAI and Anthropic request/response shapes, SSE, translation. No I/O here."""
