"""A faithful local emulation of the Meta Marketing API, the Google Ads API, their OAuth servers and
the Resend and SendGrid e-mail APIs, for tests and `datadrip demo`. Start with
`datadrip.sandbox.server.SandboxServer`."""
