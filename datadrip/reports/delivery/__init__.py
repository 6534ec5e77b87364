"""Report e-mail delivery: the message, SMTP, Resend and SendGrid, and the outbox."""
