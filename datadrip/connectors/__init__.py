"""Connectors: they speak to the ad platforms and yield plain records; they never touch the workbook."""
