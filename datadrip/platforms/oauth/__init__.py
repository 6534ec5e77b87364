"""The OAuth login flow on a loopback address, shared by the platforms."""
