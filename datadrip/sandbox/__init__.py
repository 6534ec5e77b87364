"""A faithful local emulation of the Meta Marketing API, the Google Ads API and their OAuth
servers, for tests and `datadrip demo`. Start with `datadrip.sandbox.server.SandboxServer`."""
