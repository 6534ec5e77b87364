"""DataDrip: ad metrics synced into a local workbook, reported to clients."""

__version__ = "0.1.0"
