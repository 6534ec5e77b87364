"""The sandbox's Meta: the Graph API, insights, report runs and the login dialog."""
