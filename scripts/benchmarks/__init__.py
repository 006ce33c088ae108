"""Speed, load and memory of the service, and the LLM stand-in that replaces a real LLM in measurements."""
