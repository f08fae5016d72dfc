#!/bin/sh
# Promote the standby.
exec pg_ctl promote -D "$PGDATA"
