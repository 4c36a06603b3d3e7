#!/bin/bash
# POST /api/v1/transactions/ under wrk (Debian's package, outside Python), against a database that
# `bench/api.py --duration 1 --warmup 0 --keep` prepared; or the floor, a bare WSGI hello, under the same gunicorn.
#   bench/wrk/run.sh floor
#   bench/wrk/run.sh TREE WORKDIR LABEL      # TREE: a checkout with its .venv
set -u
PORT=8091
HERE=$(dirname "$(readlink -f "$0")")
if [ "$1" = floor ]; then
  cd "$HERE"; "$HERE/../../.venv/bin/gunicorn" hello:app --bind 127.0.0.1:$PORT --workers 2 --error-logfile /dev/null & G=$!
  sleep 2; echo -n "floor (bare WSGI hello): "; wrk -t2 -c16 -d20s http://127.0.0.1:$PORT/ | grep -E "Requests/sec"; kill $G; wait $G 2>/dev/null; exit
fi
TREE=$1; W=$2; LABEL=$3
export DATABASE_URL=sqlite:///$W/bench-api.sqlite3 SECRET_KEY=bench-only-secret-key DEBUG=0 FRAUDSITE_VAR_DIR=$W \
  FRAUDSITE_MODEL_DIR=$W/models THROTTLE_SCORING=none THROTTLE_ANON=none LOG_LEVEL=WARNING \
  DJANGO_SETTINGS_MODULE=fraudsite.settings FRAUDSITE_AUDIT_KEY=bench-only-audit-key-0123456789abcdef
cd "$TREE"
KEY=$(.venv/bin/python manage.py create_api_client "wrk-$LABEL-$RANDOM" --role scoring | tail -1)
count() { .venv/bin/python manage.py shell -c "from predictions.models import ScoringRequest as S; print(S.objects.count())" | tail -1; }
BEFORE=$(count)
.venv/bin/gunicorn fraudsite.wsgi --bind 127.0.0.1:$PORT --workers 2 --error-logfile "$W/gunicorn.log" & G=$!
sleep 4
echo "$LABEL 16 connections: $(wrk -t2 -c16 -d20s -s "$HERE/post.lua" http://127.0.0.1:$PORT -- "$KEY" | grep -E 'Requests/sec|p50' | tr '\n' ' ')"
echo "$LABEL 1 connection: $(wrk -t1 -c1 -d10s -s "$HERE/post.lua" http://127.0.0.1:$PORT -- "$KEY" | grep -E 'Requests/sec|p50' | tr '\n' ' ')"
kill $G; wait $G 2>/dev/null
echo "$LABEL audit rows added: $(( $(count) - BEFORE ))"
