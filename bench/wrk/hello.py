"""The floor for bench/api.py: the least a WSGI app can do under the same gunicorn."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
