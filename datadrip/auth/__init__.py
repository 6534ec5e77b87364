"""OAuth logins for Meta and Google Ads: the loopback flow, token exchange, refresh, revoke."""
