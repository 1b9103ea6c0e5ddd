"""The local destination: the embedded llama.cpp engine, readiness of any OpenAI-compatible local
server, and conversations that stay local once sensitive data sent them there."""
