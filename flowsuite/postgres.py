"""PostgreSQL statements with many values: parameters sent apart from the SQL, in binary, and
results read in binary."""

from contextlib import contextmanager

import psycopg
from django.db import connection


@contextmanager
def binary_cursor():
    """A cursor binding on the server, on Django's connection and in its transaction: %b
    placeholders send a parameter in binary, execute(..., binary=True) reads the rows so.
    Django's cursors bind on the client: each value of an array is quoted into the
    statement's text, which PostgreSQL then parses back (for a batch's rollups, three
    quarters of the statement's time), and rows come back as text to parse."""
    connection.ensure_connection()
    # psycopg's errors raised as Django's (DatabaseError...), as its own cursors do
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor
