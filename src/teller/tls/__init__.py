"""HTTPS certificates: the server TLS context, and web.auto_tls_host's ACME certificates."""
