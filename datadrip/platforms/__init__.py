"""The ad platforms: connector protocol, registry, HTTP helper, OAuth, tokens, one package each."""
