"""Google Ads: the REST API connector, its accounts, metrics and login."""
