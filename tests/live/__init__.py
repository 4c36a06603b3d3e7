"""Live checks over real sockets. A package, so that the package-scoped gunicorn stops when these tests end."""
