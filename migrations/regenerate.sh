#!/usr/bin/env bash
# Regenerate the initial migration from the models (only while nothing has been released).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f migrations/versions/0001_initial_schema.py /tmp/itilflow-gen.db
.venv/bin/python - <<'PY'
from alembic import command
from itilflow.migrate import alembic_config
command.revision(alembic_config(url="sqlite:////tmp/itilflow-gen.db"), message="initial schema",
                 autogenerate=True, rev_id="0001")
PY
sed -i '/^Create Date/d' migrations/versions/0001_initial_schema.py
