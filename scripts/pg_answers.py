"""Exit 0 when the PostgreSQL at the URL given answers, 1 otherwise (for the Makefile)."""

import sys

import psycopg

try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except psycopg.Error:
    sys.exit(1)
