"""The matrix in config/ against the seed's table, cell by cell, and its validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from itilflow.domain.errors import ConfigError
from itilflow.domain.parties import Layer, Party
from itilflow.domain.raci import load_matrix, parse_matrix
from itilflow.settings import PROJECT_ROOT

MATRIX_PATH = PROJECT_ROOT / "config" / "raci.yaml"
SEED_TABLE = Path(__file__).parent.parent / "data" / "seed_raci_table.md"
#: the seed's row labels, as written in the table, to our activity keys
LABELS = {
    "ownership": "ownership", "licence (lifecycle management)": "licence",
    "operations responsibility (overall)": "operations_responsibility",
    "maintenance responsibility (overall)": "maintenance_responsibility",
    "support and service desk": "support_and_service_desk",
    "patch management (1)": "patch_management", "security handling (2)": "security_handling",
    "administrative access, prod/pre-prod (3)": "administrative_access",
    "user access, prod/pre-prod": "user_access", "backup": "backup", "restore": "restore",
    "monitoring": "monitoring", "capacity management": "capacity_management",
    "configuration management": "configuration_management",
    "incident management": "incident_management", "problem management": "problem_management",
    "change management": "change_management",
    "performance management": "performance_management",
    "ongoing development of the solution": "ongoing_development",
    "design of the solution": "design", "documentation": "documentation",
    "installation in production": "installation_in_production",
    "installation test (installationsprøve)": "installation_test",
    "acceptance test (overtagelsesprøve)": "acceptance_test",
    "operational test (driftsprøve) (4)": "operational_test",
}
COLUMNS = [(layer, party) for layer in Layer for party in (Party.CUSTOMER, Party.PROVIDER)]


def seed_cells():
    """(activity, layer, party, letters, footnotes) for every cell of the seed's table."""
    for line in SEED_TABLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 9 or cells[0] in ("activity", "---") or cells[0].startswith("**"):
            continue
        activity = LABELS[cells[0]]
        for (layer, party), raw in zip(COLUMNS, cells[1:], strict=True):
            notes = tuple(int(n) for n in re.findall(r"\((\d)\)", raw))
            letters = re.sub(r"\(\d\)", "", raw).replace(" ", "")
            yield activity, layer, party, letters, notes


SEED = list(seed_cells())


def test_seed_table_has_every_row():
    assert len({c[0] for c in SEED}) == 25
    assert len(SEED) == 25 * 8


@pytest.mark.parametrize(("activity", "layer", "party", "letters", "notes"), SEED,
                         ids=[f"{a}-{lay.value}-{p.value}" for a, lay, p, _, _ in SEED])
def test_every_cell_matches_the_seed(activity, layer, party, letters, notes):
    role = load_matrix(MATRIX_PATH).cell(activity, layer).role(party)
    assert role.letters == frozenset(letters)
    assert role.only_on_deviations == (5 in notes)
    assert role.on_request == (7 in notes)
    assert (role.r_elsewhere is not None) == (6 in notes and "R" not in letters)


def test_footnotes_are_routing_attributes():
    m = load_matrix(MATRIX_PATH)
    restore_mw = m.cell("restore", Layer.MIDDLEWARE)
    assert restore_mw.responsible() is Party.CUSTOMER
    assert restore_mw.responsible(on_request=True) is Party.PROVIDER
    assert restore_mw.consulted == (Party.CUSTOMER,)
    backup_app = m.cell("backup", Layer.APPLICATION)
    assert backup_app.responsible() is Party.CUSTOMER  # footnote 6: A does it through its layers
    patch_infra = m.cell("patch_management", Layer.INFRASTRUCTURE)
    assert patch_infra.role(Party.CUSTOMER).only_on_deviations
    assert m.cell("incident_management", None).as_codes() == {"customer": "I", "provider": "AR"}


def _broken(mutate):
    data = yaml.safe_load(MATRIX_PATH.read_text(encoding="utf-8"))
    mutate(data)
    return data


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["activities"]["backup"].__setitem__("middleware", {"customer": "C",
                                                                    "provider": "R"}),
     "activities.backup.middleware: exactly one A is required, found 0"),
    (lambda d: d["activities"]["ownership"].__setitem__("application", {"customer": "A",
                                                                       "provider": "AR"}),
     "activities.ownership.application: exactly one A is required, found 2"),
    (lambda d: d["activities"]["monitoring"].__setitem__("application", {"customer": "A"}),
     "activities.monitoring.application: at least one R"),
    (lambda d: d["activities"]["monitoring"].__setitem__("application", {"customer": "AX"}),
     "activities.monitoring.application.customer: letters must be some of R, A, C, I"),
    (lambda d: d["activities"]["monitoring"].pop("infrastructure"),
     "activities.monitoring: no entry for layer infrastructure"),
    (lambda d: d["activities"]["monitoring"].__setitem__("network", {"customer": "AR"}),
     "activities.monitoring: unknown key(s) network"),
    (lambda d: d["activities"]["monitoring"].__setitem__("application", {"kunde": "AR"}),
     "unknown party 'kunde'"),
])
def test_broken_matrix_is_refused_with_entry_and_reason(mutate, message):
    with pytest.raises(ConfigError) as excinfo:
        parse_matrix(_broken(mutate), "config/raci.yaml")
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("config/raci.yaml")


def test_unreadable_or_invalid_file(tmp_path):
    bad = tmp_path / "raci.yaml"
    bad.write_text("activities: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_matrix(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_matrix(tmp_path / "missing.yaml")
