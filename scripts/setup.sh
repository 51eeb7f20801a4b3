#!/usr/bin/env bash
# Set-up shared by `make run` and `make test` (CONTRACT.md "Set-up: two commands"):
#   1. system packages (PostGIS, Chromium, CJK fonts, GDAL) when missing and we are root;
#   2. the Python virtualenv (.venv) and the npm packages (node_modules), reinstalled only when
#      pyproject.toml / package-lock.json change;
#   3. find or create a PostgreSQL server, write its URL to .data/gridmarket.env;
#   4. create the database (UTF8, from template0) and migrate it.
# Safe to run again: every step checks what exists first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p .data
say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

PG_VERSION="${GRIDMARKET_PG_VERSION:-$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n1)}"
PG_VERSION="${PG_VERSION:-15}"
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
LOCAL_PORT="${GRIDMARKET_LOCAL_PG_PORT:-5433}"
DB_NAME="${GRIDMARKET_DB_NAME:-gridmarket}"
IS_ROOT=0; [ "$(id -u)" = "0" ] && IS_ROOT=1

# ---------------------------------------------------------------- 1. system packages
want_pkgs=("postgresql-${PG_VERSION}-postgis-3" chromium fonts-noto-cjk gdal-bin)
missing=()
for p in "${want_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$IS_ROOT" = 1 ]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    say "installing system packages with sudo: ${missing[*]}"
    sudo apt-get update -qq >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing system packages: ${missing[*]}"
    say "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    say "(PostGIS is needed unless GRIDMARKET_DATABASE_URL points at a server that has it;"
    say " chromium, fonts-noto-cjk and gdal-bin are needed by the tests and PNG exports)"
  fi
fi

# ---------------------------------------------------------------- 2. Python and npm packages
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  say "creating the virtualenv .venv"
  "$PY" -m venv .venv
fi
stamp_py=".venv/.gridmarket-installed"
want_py="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp_py" ] || [ "$(cat "$stamp_py")" != "$want_py" ]; then
  say "installing Python packages (pinned in pyproject.toml)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want_py" > "$stamp_py"
fi
command -v npm >/dev/null || die "npm is missing: install Node.js 20 with npm (apt-get install -y nodejs npm)"
stamp_js="node_modules/.gridmarket-installed"
want_js="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp_js" ] || [ "$(cat "$stamp_js")" != "$want_js" ]; then
  say "installing front-end packages (npm ci, from package-lock.json)"
  npm ci --no-audit --no-fund --silent
  echo "$want_js" > "$stamp_js"
fi

# ---------------------------------------------------------------- 3. find or create the server
pg_answers() { "$PG_BIN/pg_isready" -q -h "$1" -p "$2" 2>/dev/null; }
wait_ready() {
  for _ in $(seq 1 60); do pg_answers "$1" "$2" && return 0; sleep 0.5; done
  return 1
}

URL=""
if [ -n "${GRIDMARKET_DATABASE_URL:-}" ]; then
  URL="$GRIDMARKET_DATABASE_URL"
  say "using GRIDMARKET_DATABASE_URL"
elif pg_answers 127.0.0.1 5432; then
  URL="postgresql+psycopg://postgres@127.0.0.1:5432/${DB_NAME}"
  say "using the PostgreSQL server on 127.0.0.1:5432"
elif [ "$IS_ROOT" = 1 ] && command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^${PG_VERSION} main$"; then
  say "starting the system cluster ${PG_VERSION}/main"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start || true
  wait_ready 127.0.0.1 5432 || die "the system cluster ${PG_VERSION}/main did not start (see /var/log/postgresql)"
  URL="postgresql+psycopg://postgres@127.0.0.1:5432/${DB_NAME}"
else
  # a project-local cluster under .data/, run as the postgres user (PostgreSQL refuses root)
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server found: install postgresql-${PG_VERSION} (apt-get install -y postgresql-${PG_VERSION} postgresql-${PG_VERSION}-postgis-3) or set GRIDMARKET_DATABASE_URL"
  PGDATA_DIR="$ROOT/.data/pg"
  RUN_DIR="$ROOT/.data/pg-run"
  as_pg=()
  if [ "$IS_ROOT" = 1 ]; then
    id postgres >/dev/null 2>&1 || die "user postgres is missing (install the postgresql package)"
    as_pg=(runuser -u postgres --)
    # the postgres user must be able to traverse every folder down to .data
    d="$ROOT"; while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
  fi
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    say "creating a project-local PostgreSQL cluster in .data/pg"
    mkdir -p "$PGDATA_DIR" "$RUN_DIR"
    [ "$IS_ROOT" = 1 ] && chown postgres:postgres "$PGDATA_DIR" "$RUN_DIR"
    "${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDATA_DIR" -E UTF8 --locale=C.UTF-8 -U postgres --auth=trust >/dev/null
  fi
  mkdir -p "$RUN_DIR"; [ "$IS_ROOT" = 1 ] && chown postgres:postgres "$RUN_DIR"
  if ! pg_answers 127.0.0.1 "$LOCAL_PORT"; then
    say "starting the project-local cluster on 127.0.0.1:${LOCAL_PORT}"
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w \
      -o "-p ${LOCAL_PORT} -k ${RUN_DIR} -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  wait_ready 127.0.0.1 "$LOCAL_PORT" || die "the project-local cluster did not start (see .data/pg/server.log)"
  URL="postgresql+psycopg://postgres@127.0.0.1:${LOCAL_PORT}/${DB_NAME}"
fi
echo "GRIDMARKET_DATABASE_URL=${URL}" > .data/gridmarket.env

# ---------------------------------------------------------------- 4. database and schema
GRIDMARKET_DATABASE_URL="$URL" .venv/bin/gridmarket db upgrade
