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
# the trigram index of the title search needs its extension first, on PostgreSQL only
.venv/bin/python - <<'PY'
from pathlib import Path
path = Path("migrations/versions/0001_initial_schema.py")
text = path.read_text()
marker = "def upgrade() -> None:\n"
step = ('    if op.get_bind().dialect.name == "postgresql":\n'
        '        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # ix_tickets_title_trgm\n')
path.write_text(text.replace(marker, marker + step, 1))
PY
