"""PostgreSQL bulk statements with their parameters sent apart from the SQL, in binary."""

from contextlib import contextmanager

import psycopg
from django.db import connection


@contextmanager
def binary_cursor():
    """A cursor binding on the server, on Django's connection and in its transaction; use %b
    placeholders. Django's cursors bind on the client: each value of an array is quoted into
    the statement's text, which PostgreSQL then parses back. For a batch's rollups that was
    three quarters of the statement's time."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        yield cursor
