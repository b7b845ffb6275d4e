# Sourced by scripts/test.sh: start and stop PostgreSQL and Redis on free loopback ports.

free_port() {
  .venv/bin/python -c "from flowsuite.testing import free_port; print(free_port())"
}

as_postgres() {  # initdb and postgres refuse to run as root
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {  # data folder
  local dir=$1 bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PG_BIN=$bin PG_DIR=$dir PG_PORT=$(free_port)
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown postgres "$dir"
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null || return 1
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
    "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
    start >/dev/null || { cat "$dir/log"; return 1; }
  as_postgres "$bin/psql" -h "$dir" -p "$PG_PORT" -U postgres -q -c \
    "CREATE USER flowsuite WITH CREATEDB PASSWORD 'flowsuite'" >/dev/null || return 1
  echo "PostgreSQL on 127.0.0.1:$PG_PORT"
}

start_redis() {  # folder
  local dir=$1
  REDIS_PORT=$(free_port) REDIS_DIR=$dir
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' \
    --appendonly no --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || return 1
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && { echo "Redis on 127.0.0.1:$REDIS_PORT"; return 0; }
    sleep 0.1
  done
  return 1
}

stop_services() {
  if [[ -n ${REDIS_PORT:-} ]]; then
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [[ -n ${PG_DIR:-} && -d ${PG_DIR}/data ]]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
}
