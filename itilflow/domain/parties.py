"""Parties, layers, roles and organisation kinds: the vocabulary of the service model."""

from __future__ import annotations

from enum import StrEnum


class Party(StrEnum):
    CUSTOMER = "customer"
    PROVIDER = "provider"


class Layer(StrEnum):
    APPLICATION = "application"
    MIDDLEWARE = "middleware"
    OPERATING_SYSTEM = "operating_system"
    INFRASTRUCTURE = "infrastructure"


class OrgKind(StrEnum):
    CUSTOMER = "customer"
    PROVIDER = "provider"
    SUPPLIER = "supplier"


class Role(StrEnum):
    REPORTER = "reporter"
    CUSTOMER_AGENT = "customer_agent"
    SUPPLIER_AGENT = "supplier_agent"
    SIT_AGENT = "sit_agent"
    CUSTOMER_MANAGER = "customer_manager"
    SIT_MANAGER = "sit_manager"
    ADMIN = "admin"


#: The kind of organisation each role belongs to; a user's role must match its organisation.
ROLE_ORG_KIND: dict[Role, OrgKind] = {
    Role.REPORTER: OrgKind.CUSTOMER,
    Role.CUSTOMER_AGENT: OrgKind.CUSTOMER,
    Role.CUSTOMER_MANAGER: OrgKind.CUSTOMER,
    Role.SUPPLIER_AGENT: OrgKind.SUPPLIER,
    Role.SIT_AGENT: OrgKind.PROVIDER,
    Role.SIT_MANAGER: OrgKind.PROVIDER,
    Role.ADMIN: OrgKind.PROVIDER,
}

#: Roles that do the work of their party (the R of the matrix).
WORKER_ROLES = frozenset(
    {Role.CUSTOMER_AGENT, Role.SUPPLIER_AGENT, Role.SIT_AGENT, Role.CUSTOMER_MANAGER, Role.SIT_MANAGER}
)
#: Roles that answer for their party (the A, and the answer of a C consultation).
MANAGER_ROLES = frozenset({Role.CUSTOMER_MANAGER, Role.SIT_MANAGER})

#: Who owns each layer in the service model; R of incident management follows it.
LAYER_OWNER: dict[Layer, Party] = {
    Layer.APPLICATION: Party.CUSTOMER,
    Layer.MIDDLEWARE: Party.CUSTOMER,
    Layer.OPERATING_SYSTEM: Party.PROVIDER,
    Layer.INFRASTRUCTURE: Party.PROVIDER,
}


def party_of_role(role: Role) -> Party | None:
    """The party a role acts for; suppliers act for the customer they serve. Admins act for none."""
    if role is Role.ADMIN:
        return None
    kind = ROLE_ORG_KIND[role]
    return Party.PROVIDER if kind is OrgKind.PROVIDER else Party.CUSTOMER
