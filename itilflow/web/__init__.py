"""Browser adapters: login, the customer portal, the agent workspace, admin."""
