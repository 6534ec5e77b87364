"""KPIs from the workbook: totals, breakdowns and the dashboard."""
