"""Client reports: built from the workbook, rendered from templates, delivered once."""
