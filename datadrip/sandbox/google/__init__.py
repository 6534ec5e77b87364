"""The sandbox's Google Ads: the REST API, GAQL, fields, errors and OAuth."""
