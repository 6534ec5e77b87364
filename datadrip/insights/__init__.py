"""Suggestions for a client's advertising: local heuristics, an OpenAI-compatible model behind guardrails."""
