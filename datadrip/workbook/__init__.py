"""What people manage, audited: agencies, clients, team, accounts, rates, the SQL console."""
