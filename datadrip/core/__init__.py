"""The leaves: settings, errors, enums, money, periods, cron, exact JSON, checks, files, text."""
