"""The sandbox's OpenAI-compatible chat endpoint and its model's answers."""
