"""What the HTTP routes and the CLI call: status, health, admin queries, operator actions."""
