#!/usr/bin/env bash
# Start the services the tests use when they are not running: PostgreSQL (loopback, trust auth), Redis, RabbitMQ.
set -euo pipefail
pg_ready() { python3 - <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", 5432)) == 0 else 1)
PY
}
if ! pg_ready; then
  echo "services: starting PostgreSQL" >&2
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  for _ in $(seq 1 50); do pg_ready && break; sleep 0.2; done
  pg_ready || { echo "error: PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi

# Redis (the build farm's distributed broker in the worker tests).
listening() { python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"; }
redis_ready() { listening 6379; }
if ! redis_ready; then
  echo "services: starting Redis" >&2
  command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /var/lib/redis \
    --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do redis_ready && break; sleep 0.2; done
  redis_ready || { echo "error: Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
fi

# RabbitMQ (the other broker the build farm supports; one worker test uses it).
amqp_ready() { listening 5672; }
if ! amqp_ready; then
  echo "services: starting RabbitMQ" >&2
  command -v rabbitmq-server >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null; }
  rabbitmq-server -detached
  for _ in $(seq 1 150); do amqp_ready && break; sleep 0.2; done
  amqp_ready || { echo "error: RabbitMQ did not start on 127.0.0.1:5672" >&2; exit 1; }
fi
