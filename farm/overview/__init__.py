"""What this server hosts, for people: the landing page at ``/`` and the HTML error pages browsers get."""
