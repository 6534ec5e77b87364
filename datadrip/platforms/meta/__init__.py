"""Meta: the Marketing API connector, Graph client, insights, report runs and login."""
