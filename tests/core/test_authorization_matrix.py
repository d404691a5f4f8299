"""Deny by default, proven over the whole URL map.

Every endpoint x every role x (own agency, other agency in the same country, agency in
another Member State) has an expected status here. A new endpoint fails this test
until it declares a permission (or is made public) and gets its row in EXPECTED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import Agency, User, UserSession
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.core.gate import endpoint_rule
from app.extensions import db
from tests.factories import (
    make_agency,
    make_case,
    make_draft,
    make_organization,
    make_referral,
    make_service,
    make_user,
    new_totp_secret,
    sign_in_directly,
)

SCOPES = ("own_agency", "other_agency", "other_state")
ROLES = tuple(Role)
ANON = "anonymous"


@dataclass
class World:
    actor: User | None
    agencies: dict[str, Agency]  # scope -> agency
    admins: dict[str, User]  # scope -> an agency administrator there (target for user endpoints)
    sessions: dict[str, int]  # scope -> a session id (own_agency: the actor's own)
    cases: dict[str, str]  # scope -> a case owned by that scope's agency
    drafts: dict[str, str]  # scope -> an identification draft (own_agency: the actor's own, if any)
    referrals: dict[str, str]  # scope -> a sent referral of that scope's case to that scope's agency
    organizations: dict[str, str]  # scope -> the directory organisation linked to that scope's agency
    services: dict[str, str]  # scope -> an active service of that organisation


def build_world(role: Role | None, *, with_directory: bool = False) -> World:
    own = make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT, name="Own")
    other = make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT, name="Other")
    abroad = make_agency("DE", AgencyKind.NATIONAL_FOCAL_POINT, name="Abroad")
    agencies = {"own_agency": own, "other_agency": other, "other_state": abroad}
    admins = {
        scope: make_user(Role.AGENCY_ADMIN, agency, totp_secret=new_totp_secret()) for scope, agency in agencies.items()
    }
    actor = make_user(role, own, totp_secret=new_totp_secret()) if role else None
    cases = {scope: make_case(agency).id for scope, agency in agencies.items()}
    drafts = {scope: make_draft(make_user(Role.FRONTLINE, agency)).id for scope, agency in agencies.items()}
    if actor is not None and actor.role in (Role.FRONTLINE, Role.FOCAL_POINT):
        drafts["own_agency"] = make_draft(actor).id
    referrals: dict[str, str] = {}
    organizations: dict[str, str] = {}
    services: dict[str, str] = {}
    for scope, agency in agencies.items() if with_directory else ():
        organization = make_organization(agency)
        service = make_service(organization)
        organizations[scope], services[scope] = organization.id, service.id
        case = db.session.get(Case, cases[scope])
        referrals[scope] = make_referral(make_user(Role.FRONTLINE, agency), case, service).id
    return World(
        actor=actor,
        agencies=agencies,
        admins=admins,
        sessions={},
        cases=cases,
        drafts=drafts,
        referrals=referrals,
        organizations=organizations,
        services=services,
    )


# An expectation: a status for every (role, scope), or a function of them.
Expect = Callable[[str, str], int]


def everyone(status: int) -> Expect:
    return lambda role, scope: status


def signed_in(status: int) -> Expect:
    return lambda role, scope: 302 if role == ANON else status


def only(roles: set[Role], status: int) -> Expect:
    return lambda role, scope: 302 if role == ANON else (status if role in {r.value for r in roles} else 403)


def manage_admin_user(status: int) -> Expect:
    """User endpoints aimed at an agency administrator in each scope."""

    def expect(role: str, scope: str) -> int:
        if role == ANON:
            return 302
        if role == Role.SYSTEM_ADMIN.value:
            return status
        if role == Role.AGENCY_ADMIN.value:
            return status if scope == "own_agency" else 404
        return 403

    return expect


def two_factor_disable(role: str, scope: str) -> int:
    if role == ANON:
        return 302
    return 403 if role in {"focal_point", "supervisor", "agency_admin", "system_admin"} else 200


def own_session_only(role: str, scope: str) -> int:
    if role == ANON:
        return 302
    return 302 if scope == "own_agency" else 404


def case_in_scope(role: str, scope: str) -> int:
    if role == ANON:
        return 302
    if role == Role.FRONTLINE.value:
        return 200 if scope == "own_agency" else 404
    if role == Role.FOCAL_POINT.value:
        return 200 if scope != "other_state" else 404
    return 403


def referral_in_scope(role: str, scope: str) -> int:
    """Sender side: who sees the case; recipient side: caseworkers of the receiving agency."""
    if role == Role.CASEWORKER.value:
        return 200 if scope == "own_agency" else 404
    return case_in_scope(role, scope)


def identity_decision(role: str, scope: str) -> int:
    """Only the sending side decides (a stale form here: 409); the service may not (403)."""
    seen = referral_in_scope(role, scope)
    if seen != 200:
        return seen
    return 403 if role == Role.CASEWORKER.value else 409


MANAGERS = {Role.FOCAL_POINT, Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN}


def manage_directory(status: int) -> Expect:
    """Organisations and services: system administrators everywhere, focal points in their
    country, agency administrators their own agency's organisation."""

    def expect(role: str, scope: str) -> int:
        if role == ANON:
            return 302
        allowed = {
            Role.SYSTEM_ADMIN.value: SCOPES,
            Role.FOCAL_POINT.value: ("own_agency", "other_agency"),
            Role.AGENCY_ADMIN.value: ("own_agency",),
        }.get(role, ())
        return status if scope in allowed else 403

    return expect


def own_capacity(role: str, scope: str) -> int:
    if role == ANON:
        return 302
    if role in (Role.CASEWORKER.value, Role.AGENCY_ADMIN.value):
        return 200 if scope == "own_agency" else 403
    return 403


def own_draft_only(role: str, scope: str) -> int:
    if role == ANON:
        return 302
    if role in (Role.FRONTLINE.value, Role.FOCAL_POINT.value):
        return 200 if scope == "own_agency" else 404
    return 403


def supervised_scope(role: str, scope: str) -> int:
    """Supervisor pages about one case or user: their own country only."""
    if role == ANON:
        return 302
    if role == Role.SUPERVISOR.value:
        return 200 if scope != "other_state" else 404
    return 403


def own_country_settings(role: str, scope: str) -> int:
    """Country settings: the operator everywhere, a focal point its own country."""
    if role == ANON:
        return 302
    if role == Role.SYSTEM_ADMIN.value:
        return 200
    if role == Role.FOCAL_POINT.value:
        return 200 if scope != "other_state" else 404
    return 403


SYS = {Role.SYSTEM_ADMIN}
SUPERVISORS = {Role.SUPERVISOR}
IDENTIFIERS = {Role.FRONTLINE, Role.FOCAL_POINT}
# endpoint -> (method, url builder, expectation)
EXPECTED: dict[str, tuple[str, Callable[[World, str], str], Expect]] = {
    "static": ("GET", lambda w, s: "/static/css/app.css", everyone(200)),
    "main.healthz": ("GET", lambda w, s: "/healthz", everyone(200)),
    "main.set_language": ("POST", lambda w, s: "/language", everyone(302)),
    "main.index": ("GET", lambda w, s: "/", signed_in(200)),
    "accounts.sign_in": ("GET", lambda w, s: "/sign-in", lambda r, s: 200 if r == ANON else 302),
    "accounts.two_factor": ("GET", lambda w, s: "/sign-in/code", everyone(302)),
    "accounts.enrol": ("GET", lambda w, s: "/sign-in/set-up-two-factor", everyone(302)),
    "accounts.activation_link": ("GET", lambda w, s: "/activate/not-a-token", everyone(302)),
    "accounts.activate": ("GET", lambda w, s: "/activate", everyone(404)),
    "accounts.sign_out": ("POST", lambda w, s: "/sign-out", signed_in(302)),
    "profile.overview": ("GET", lambda w, s: "/account/", signed_in(200)),
    "profile.change_password": ("GET", lambda w, s: "/account/password", signed_in(200)),
    "profile.two_factor_setup": ("GET", lambda w, s: "/account/two-factor", signed_in(200)),
    "profile.two_factor_disable": ("GET", lambda w, s: "/account/two-factor/disable", two_factor_disable),
    "profile.recovery_codes": ("GET", lambda w, s: "/account/two-factor/recovery-codes", signed_in(200)),
    "profile.sessions": ("GET", lambda w, s: "/account/sessions", signed_in(200)),
    "profile.end_session": ("POST", lambda w, s: f"/account/sessions/{w.sessions.get(s, 0)}/end", own_session_only),
    "admin.users": ("GET", lambda w, s: "/admin/users", only({Role.AGENCY_ADMIN, *SYS}, 200)),
    "admin.user_new": ("GET", lambda w, s: "/admin/users/new", only({Role.AGENCY_ADMIN, *SYS}, 200)),
    "admin.user_edit": ("GET", lambda w, s: f"/admin/users/{w.admins[s].id}", manage_admin_user(200)),
    "admin.user_deactivate": ("POST", lambda w, s: f"/admin/users/{w.admins[s].id}/deactivate", manage_admin_user(302)),
    "admin.user_reactivate": ("POST", lambda w, s: f"/admin/users/{w.admins[s].id}/reactivate", manage_admin_user(302)),
    "admin.user_reset_two_factor": (
        "POST",
        lambda w, s: f"/admin/users/{w.admins[s].id}/reset-two-factor",
        manage_admin_user(302),
    ),
    "admin.user_password_link": (
        "POST",
        lambda w, s: f"/admin/users/{w.admins[s].id}/password-link",
        manage_admin_user(200),
    ),
    "admin.agencies": ("GET", lambda w, s: "/admin/agencies", only({Role.FOCAL_POINT, *SYS}, 200)),
    "admin.agency_new": ("GET", lambda w, s: "/admin/agencies/new", only(SYS, 200)),
    "admin.agency_edit": ("GET", lambda w, s: f"/admin/agencies/{w.agencies[s].id}", only(SYS, 200)),
    "identification.catalogue": ("GET", lambda w, s: "/indicators/", signed_in(200)),
    "identification.versions": ("GET", lambda w, s: "/indicators/versions", only({Role.FOCAL_POINT}, 200)),
    "identifications.new": ("POST", lambda w, s: "/identifications/new", only(IDENTIFIERS, 302)),
    "identifications.edit": ("GET", lambda w, s: f"/identifications/{w.drafts[s]}", own_draft_only),
    "cases.my_cases": ("GET", lambda w, s: "/cases/", only(IDENTIFIERS, 200)),
    "cases.detail": ("GET", lambda w, s: f"/cases/{w.cases[s]}", case_in_scope),
    "cases.change_status": (
        "POST",
        lambda w, s: f"/cases/{w.cases[s]}/status",
        lambda r, s: 302 if case_in_scope(r, s) == 200 else case_in_scope(r, s),
    ),
    "privacy.record_consent": ("GET", lambda w, s: f"/cases/{w.cases[s]}/consent/new", case_in_scope),
    "privacy.withdraw": (
        "POST",
        lambda w, s: f"/cases/{w.cases[s]}/consent/none/withdraw",
        lambda r, s: 302 if case_in_scope(r, s) == 200 else case_in_scope(r, s),
    ),
    "cases.duplicates": ("GET", lambda w, s: "/cases/duplicates", only({Role.FOCAL_POINT}, 200)),
    "cases.decide_duplicate": ("POST", lambda w, s: "/cases/duplicates/0", only({Role.FOCAL_POINT}, 404)),
    "cases.add_note": (
        "POST",
        lambda w, s: f"/cases/{w.cases[s]}/notes",
        lambda r, s: 302 if case_in_scope(r, s) == 200 else case_in_scope(r, s),
    ),
    "cases.add_task": (
        "POST",
        lambda w, s: f"/cases/{w.cases[s]}/tasks",
        lambda r, s: 302 if case_in_scope(r, s) == 200 else case_in_scope(r, s),
    ),
    "cases.complete_task": (
        "POST",
        lambda w, s: f"/cases/{w.cases[s]}/tasks/none/done",
        lambda r, s: 404 if case_in_scope(r, s) == 200 else case_in_scope(r, s),
    ),
    "identifications.amend": (
        "GET",
        lambda w, s: f"/identifications/{w.drafts[s]}/amend",
        lambda r, s: 302 if r == ANON else (404 if r in ("frontline", "focal_point") else 403),
    ),
    "referrals.new": ("GET", lambda w, s: f"/referrals/new/{w.cases[s]}", case_in_scope),
    "referrals.inbox": ("GET", lambda w, s: "/referrals/inbox", only({Role.CASEWORKER}, 200)),
    "referrals.sent": ("GET", lambda w, s: "/referrals/sent", only(IDENTIFIERS, 200)),
    "referrals.detail": ("GET", lambda w, s: f"/referrals/{w.referrals[s]}", referral_in_scope),
    "referrals.act": (
        "POST",
        lambda w, s: f"/referrals/{w.referrals[s]}/withdraw",
        lambda r, s: 409 if referral_in_scope(r, s) == 200 else referral_in_scope(r, s),
    ),
    "referrals.desk": ("GET", lambda w, s: "/referrals/desk", only({Role.FOCAL_POINT}, 200)),
    "referrals.request_identity": (
        "POST",
        lambda w, s: f"/referrals/{w.referrals[s]}/identity/request",
        lambda r, s: 400 if referral_in_scope(r, s) == 200 else referral_in_scope(r, s),
    ),
    "referrals.decide_identity": (
        "POST",
        lambda w, s: f"/referrals/{w.referrals[s]}/identity/release",
        identity_decision,
    ),
    "notifications.index": ("GET", lambda w, s: "/notifications/", signed_in(200)),
    "notifications.mark_read": ("POST", lambda w, s: "/notifications/0/read", signed_in(404)),
    "notifications.mark_all_read": ("POST", lambda w, s: "/notifications/read-all", signed_in(302)),
    "directory.search": ("GET", lambda w, s: "/directory/", signed_in(200)),
    "directory.organizations": ("GET", lambda w, s: "/directory/organisations", only(MANAGERS, 200)),
    "directory.organization_new": ("GET", lambda w, s: "/directory/organisations/new", only(MANAGERS, 200)),
    "directory.export_json": ("GET", lambda w, s: "/directory/export.json", only(MANAGERS, 200)),
    "directory.export_csv": ("GET", lambda w, s: "/directory/export.csv", only(MANAGERS, 200)),
    "directory.import_file": ("GET", lambda w, s: "/directory/import", only(MANAGERS, 200)),
    "directory.service_detail": ("GET", lambda w, s: f"/directory/services/{w.services[s]}", signed_in(200)),
    "directory.update_capacity": ("POST", lambda w, s: f"/directory/services/{w.services[s]}/capacity", own_capacity),
    "directory.organization_edit": (
        "GET",
        lambda w, s: f"/directory/organisations/{w.organizations[s]}",
        manage_directory(200),
    ),
    "directory.service_new": (
        "GET",
        lambda w, s: f"/directory/organisations/{w.organizations[s]}/services/new",
        manage_directory(200),
    ),
    "directory.service_edit": ("GET", lambda w, s: f"/directory/services/{w.services[s]}/edit", manage_directory(200)),
    "directory.organization_set_active": (
        "POST",
        lambda w, s: f"/directory/organisations/{w.organizations[s]}/active",
        manage_directory(302),
    ),
    "directory.service_set_active": (
        "POST",
        lambda w, s: f"/directory/services/{w.services[s]}/active",
        manage_directory(302),
    ),
    "audit.index": ("GET", lambda w, s: "/audit/", only(SUPERVISORS, 200)),
    "audit.export": ("POST", lambda w, s: "/audit/export", only(SUPERVISORS, 200)),
    "audit.case_trail": ("GET", lambda w, s: f"/audit/cases/{w.cases[s]}", supervised_scope),
    "audit.user_activity": ("GET", lambda w, s: f"/audit/users/{w.admins[s].id}", supervised_scope),
    "audit.anomalies": ("GET", lambda w, s: "/audit/anomalies", only(SUPERVISORS, 200)),
    "audit.checkpoints": ("GET", lambda w, s: "/audit/checkpoints", only(SUPERVISORS, 200)),
    "audit.public_key": ("GET", lambda w, s: "/audit/public-key.jwk", only(SUPERVISORS, 200)),
    "audit.break_glass_queue": ("GET", lambda w, s: "/audit/break-glass", only(SUPERVISORS, 200)),
    "audit.break_glass_review": ("GET", lambda w, s: "/audit/break-glass/none", only(SUPERVISORS, 404)),
    "emergency.request_access": ("GET", lambda w, s: "/emergency-access/", only(IDENTIFIERS, 200)),
    # Peer installations, not people: no session; refused without a federation identity.
    "federation_api.inbox": ("POST", lambda w, s: "/federation/inbox", everyone(404)),
    "federation.index": ("GET", lambda w, s: "/admin/federation/", only(SYS, 200)),
    "federation.add_peer": ("POST", lambda w, s: "/admin/federation/peers", only(SYS, 400)),
    "federation.add_key": ("POST", lambda w, s: "/admin/federation/keys", only(SYS, 400)),
    "federation.set_peer_state": ("POST", lambda w, s: "/admin/federation/peers/0/suspend", only(SYS, 404)),
    "federation.retry_package": ("POST", lambda w, s: "/admin/federation/outbox/none/retry", only(SYS, 302)),
    "federation.revoke_key": ("POST", lambda w, s: "/admin/federation/keys/none/revoke", only(SYS, 302)),
    "admin.member_states": ("GET", lambda w, s: "/admin/member-states", only({Role.FOCAL_POINT, *SYS}, 200)),
    "admin.member_state_edit": (
        "GET",
        lambda w, s: f"/admin/member-states/{w.agencies[s].member_state_code}",
        own_country_settings,
    ),
}


def test_every_endpoint_is_public_or_declares_a_permission(app: Flask) -> None:
    undeclared = []
    for rule in app.url_map.iter_rules():
        is_public, permission = endpoint_rule(app, rule.endpoint)
        if not is_public and permission is None:
            undeclared.append(rule.endpoint)
    assert undeclared == [], f"endpoints with no permission and not public: {undeclared}"


def test_every_endpoint_has_expectations(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - EXPECTED.keys() == set(), "add the new endpoints to EXPECTED"
    assert EXPECTED.keys() - endpoints == set(), "remove endpoints that no longer exist"


def test_public_list_is_short(app: Flask) -> None:
    public = sorted(rule.endpoint for rule in app.url_map.iter_rules() if endpoint_rule(app, rule.endpoint)[0])
    assert public == sorted(
        [
            "static",
            "main.healthz",
            "main.set_language",
            "accounts.sign_in",
            "accounts.two_factor",
            "accounts.enrol",
            "accounts.activation_link",
            "accounts.activate",
            "federation_api.inbox",
        ]
    )


def _fresh_world(app: Flask, role: str, *, with_directory: bool) -> tuple[World, FlaskClient]:
    """Empty tables, a new world, and a client signed in as the role (in an app context).
    The world's rows stay readable after the context ends (detached, loaded)."""
    from tests.conftest import empty_tables

    empty_tables()
    world = build_world(None if role == ANON else Role(role), with_directory=with_directory)
    client = app.test_client()
    if world.actor is not None:
        sign_in_directly(client, world.actor)
        world.sessions = {"own_agency": _session_of(world.actor)}
        for scope in ("other_agency", "other_state"):  # an administrator's session there
            sign_in_directly(app.test_client(), world.admins[scope])
            world.sessions[scope] = _session_of(world.admins[scope])
    for row in (*world.agencies.values(), *world.admins.values()):
        db.session.refresh(row)
        db.session.expunge(row)
    return world, client


def _session_of(user: User) -> int:
    return db.session.execute(select(UserSession.id).where(UserSession.user_id == user.id)).scalar_one()


def _reads(endpoint: str, method: str) -> bool:
    """A page that changes nothing deciding access (reads; not the sign-in flows): one world
    serves all of them; anything else gets a world of its own."""
    return method == "GET" and not endpoint.startswith("accounts.")


def _with_directory(endpoint: str) -> bool:
    return endpoint.split(".", maxsplit=1)[0] in ("referrals", "directory")


def _order(item: tuple[str, tuple[str, Callable[[World, str], str], Expect]]) -> tuple[bool, bool, str]:
    """The reads first, grouped by the world they need, so that each group builds one."""
    endpoint, (method, _url, _expect) = item
    return (not _reads(endpoint, method), _with_directory(endpoint), endpoint)


@pytest.mark.parametrize("role", [ANON, *[r.value for r in ROLES]])
def test_authorization_matrix(app: Flask, role: str) -> None:
    failures = []
    shared: tuple[bool, World, FlaskClient] | None = None  # the reads' world, while it stands
    for endpoint, (method, url_for_scope, expect) in sorted(EXPECTED.items(), key=_order):
        with_directory, reads = _with_directory(endpoint), _reads(endpoint, method)
        for scope in SCOPES:
            with app.app_context():
                if reads and shared is not None and shared[0] == with_directory:
                    _, world, client = shared
                else:
                    world, client = _fresh_world(app, role, with_directory=with_directory)
                    shared = (with_directory, world, client) if reads else None
                url = url_for_scope(world, scope)
            response = client.open(url, method=method)
            expected = expect(role, scope)
            if response.status_code != expected:
                failures.append(f"{method} {endpoint} as {role} ({scope}): {response.status_code} != {expected}")
    assert failures == []


def test_permission_denials_are_recorded(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = make_user(Role.FRONTLINE)
        sign_in_directly(client, user)
    assert client.get("/admin/users").status_code == 403
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "auth.permission_denied")).scalar_one()
        assert entry.actor_id == user.id and entry.details["endpoint"] == "admin.users"


def test_refused_objects_are_recorded(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        admin = make_user(Role.AGENCY_ADMIN, make_agency("FR", AgencyKind.POLICE), totp_secret=new_totp_secret())
        elsewhere = make_user(Role.FRONTLINE, make_agency("DE", AgencyKind.POLICE))
        sign_in_directly(client, admin)
    assert client.get(f"/admin/users/{elsewhere.id}").status_code == 404
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "auth.object_refused")).scalar_one()
        assert entry.actor_id == admin.id
        assert entry.details == {"endpoint": "admin.user_edit", "args": {"user_id": str(elsewhere.id)}}
