"""Date formats for the admin: one format everywhere (ISO dates, 24-hour times), whatever Django's locale says."""
