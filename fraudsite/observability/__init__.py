"""What the operator sees of a running service: Prometheus metrics at /metrics and one log line per request."""
