"""Command-line tools: ``flask create-admin``, ``flask seed-demo``, ``flask audit verify``,
``flask keys``, ``flask referrals tick`` and ``flask jobs worker``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.core.db import expecting_writes
from app.extensions import db


def register_cli(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo)
    app.cli.add_command(audit_group)
    app.cli.add_command(federation_group)
    app.cli.add_command(keys_group)
    app.cli.add_command(referrals_group)
    app.cli.add_command(jobs_group)

    from app.periodic import start_dev_ticker

    start_dev_ticker(app)  # only in the process serving `flask run` in development


@click.command("create-admin")
@with_appcontext
@click.option("--email", prompt=True, help="E-mail address of the administrator.")
@click.option("--name", "display_name", prompt="Full name", help="Display name.")
@click.option("--agency", "agency_name", prompt="Agency name", help="Agency (created if it does not exist).")
@click.option("--country", prompt="Country (ISO 3166-1 alpha-2)", help="Country of the agency, e.g. FR.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
def create_admin(email: str, display_name: str, agency_name: str, country: str, password_stdin: bool) -> None:
    """Create a system administrator (the first one, or another)."""
    from app.accounts import cli_services

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        cli_services.create_system_admin(
            email=email, display_name=display_name, agency_name=agency_name, country=country.upper(), password=password
        )
    except cli_services.CliError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"System administrator {email.strip().lower()} created. Two-factor set-up follows at first sign-in.")


@click.command("seed-demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds agencies.")
def seed_demo(if_empty: bool) -> None:
    """Load the clearly labelled demo dataset (refused in production)."""
    from app.accounts.demo import load_demo_data
    from app.accounts.models import Agency

    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("seed-demo refuses to run in production (APP_ENV=production).")
    if db.session.execute(select(func.count()).select_from(Agency)).scalar_one():
        if if_empty:
            click.echo("Demo data not loaded: the database already has agencies.")
            return
        raise click.ClickException("The database already has agencies; seed-demo only fills an empty database.")
    summary = load_demo_data()
    db.session.commit()
    click.echo(summary)


@click.group("audit")
def audit_group() -> None:
    """Audit trail tools."""


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.File("r"),
    help="A checkpoint (compact JWS) kept outside; the chain must still match it. Repeatable.",
)
@with_appcontext
def audit_verify(checkpoint_files: tuple[Any, ...]) -> None:
    """Check the hash chain and its signed checkpoints; exit 1 and name the first broken
    entry if it fails."""
    from app.audit.services import verify_chain
    from app.audit.signing import BadCheckpoint, read_checkpoint

    claims = []
    for handle in checkpoint_files:
        try:
            claims.append(read_checkpoint(handle.read()))
        except BadCheckpoint as exc:
            click.echo(f"Checkpoint {handle.name} refused: {exc}", err=True)
            sys.exit(1)
    result = verify_chain(external=claims)
    if result.ok:
        click.echo(
            f"Audit chain intact: {result.checked} entries verified "
            f"(head {result.last_seq}, {result.checkpoints} signed checkpoint(s) matched)."
        )
        if result.unverifiable_checkpoints:
            click.echo(
                f"{result.unverifiable_checkpoints} checkpoint(s) given are older than the kept chain "
                "(pruned) and could not be checked."
            )
        return
    click.echo(
        f"Audit chain BROKEN at entry {result.first_broken_seq}: {result.reason} "
        f"({result.checked} entries verified before it).",
        err=True,
    )
    sys.exit(1)


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Sign the chain head now and print the checkpoint (compact JWS) to keep outside."""
    from app.audit.services import issue_checkpoint

    with expecting_writes():  # SQLite: take the write lock first, like a request
        checkpoint = issue_checkpoint("manual")
    db.session.commit()
    if checkpoint is None:
        click.echo("The audit chain is empty: nothing to sign.", err=True)
        sys.exit(1)
    click.echo(checkpoint.token)


@audit_group.command("public-key")
@with_appcontext
def audit_public_key() -> None:
    """Print the public key (JWK) that checks this installation's checkpoints."""
    import json

    from app.audit.signing import public_jwk

    click.echo(json.dumps(public_jwk(), indent=1))


@audit_group.command("keygen")
def audit_keygen() -> None:
    """Make a new Ed25519 signing key: set AUDIT_SIGNING_KEY to the first value; when
    replacing a key, add the old key's public value to AUDIT_RETIRED_PUBLIC_KEYS."""
    from app.audit.signing import new_signing_key

    private, public = new_signing_key()
    click.echo(f"AUDIT_SIGNING_KEY={private}")
    click.echo(f"# public key (for AUDIT_RETIRED_PUBLIC_KEYS once this key is replaced): {public}")


@audit_group.command("prune")
@with_appcontext
def audit_prune() -> None:
    """Delete entries past each country's audit retention whose case no longer exists,
    behind a signed checkpoint. On PostgreSQL, run it as a role allowed to DELETE on
    audit_entry (docs/DEPLOYMENT.md)."""
    from app.audit.services import prune
    from app.core.db import utcnow

    with expecting_writes():  # SQLite: take the write lock first, like a request
        result = prune(utcnow())
    db.session.commit()
    if result.refused:
        click.echo(f"Nothing pruned: {result.refused}. Run `flask audit verify`.", err=True)
        sys.exit(1)
    if result.through_seq is None:
        click.echo("Nothing to prune.")
    else:
        click.echo(
            f"Pruned {result.pruned} entries up to {result.through_seq}; the chain starts after a signed checkpoint."
        )


@audit_group.command("tick")
@with_appcontext
def audit_tick_command() -> None:
    """Run the scheduled audit work once: a checkpoint when due, a full verification when due."""
    from app.periodic import audit_tick

    with expecting_writes():  # SQLite: take the write lock first, like a request
        outcome = audit_tick()
    click.echo(outcome.summary())
    if outcome.broken:
        sys.exit(1)


@click.group("keys")
def keys_group() -> None:
    """Field-encryption key tools."""


@keys_group.command("rotate")
@click.option("--batch-size", default=500, show_default=True, help="Rows re-encrypted per transaction.")
@with_appcontext
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every encrypted field under the first key of FIELD_ENCRYPTION_KEYS.

    Safe while the application runs: every listed key can still decrypt. When it is done,
    `flask keys status` shows that no value needs an old key any more.
    """
    from app.core.encrypted_fields import rotate

    for spec, report in rotate(db.session, batch_size=batch_size):
        click.echo(f"{spec.table}.{spec.column}: {report.rotated} re-encrypted of {report.examined}")


@keys_group.command("status")
@with_appcontext
def keys_status() -> None:
    """How many stored values each key id protects."""
    from app.core.crypto import keyring
    from app.core.encrypted_fields import key_ids_in_use

    active = keyring().active_key_id
    counts = key_ids_in_use(db.session)
    for key_id in sorted(counts):
        marker = " (active)" if key_id == active else ""
        click.echo(f"{key_id}{marker}: {counts[key_id]} values")
    if not counts:
        click.echo("No encrypted values stored yet.")


@click.group("referrals")
def referrals_group() -> None:
    """Referral tools."""


@referrals_group.command("tick")
@with_appcontext
def referrals_tick() -> None:
    """Remind, expire and escalate referrals whose deadlines are near or past (for cron).

    Idempotent: run it every minute. Prints counts only.
    """
    from app.periodic import deadline_tick

    with expecting_writes():  # SQLite: take the write lock first, like a request
        counts = deadline_tick()
    click.echo(f"Deadlines checked: {counts.reminded} reminded, {counts.expired} expired, {counts.skipped} skipped.")


@click.group("jobs")
def jobs_group() -> None:
    """Background job tools."""


@jobs_group.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs that are due, then stop.")
@with_appcontext
def jobs_worker(burst: bool) -> None:
    """Run background jobs from the Redis queue (JOBS_REDIS_URL), with RQ's scheduler.

    Also books the periodic deadline tick (every JOBS_TICK_SECONDS), once however many
    workers run.
    """
    from rq import Worker

    from app.core import jobs
    from app.periodic import PERIODIC_JOBS

    url = current_app.config.get("JOBS_REDIS_URL")
    if not url:
        raise click.ClickException("JOBS_REDIS_URL (or REDIS_URL) is not set: jobs run in-process, no worker needed.")
    jobs.use_app(current_app._get_current_object())  # type: ignore[attr-defined]
    queue = jobs.redis_queue(url)
    for func_path in PERIODIC_JOBS:
        jobs.schedule_periodic(queue, func_path, int(current_app.config["JOBS_TICK_SECONDS"]))
    worker = Worker([queue], connection=queue.connection)
    worker.work(burst=burst, with_scheduler=True)


@click.group("federation")
def federation_group() -> None:
    """The trust list of peer installations (system administrators, at the console)."""


def _trust_list_change(change: Any) -> Any:
    from app.federation.trust import TrustListError

    try:
        result = change()
    except TrustListError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    return result


@federation_group.command("add-peer")
@click.argument("base_url")
@click.argument("country")
@with_appcontext
def federation_add_peer(base_url: str, country: str) -> None:
    """Trust another national installation: its base URL (https://...) and country."""
    from app.federation import trust

    with expecting_writes():
        peer = _trust_list_change(lambda: trust.add_peer(None, base_url=base_url, country=country))
    click.echo(f"Peer {peer.base_url} ({peer.country}) added. Add its keys with `flask federation add-key`.")


@federation_group.command("add-key")
@click.argument("base_url")
@click.argument("jwk_file", type=click.File("r"))
@with_appcontext
def federation_add_key(base_url: str, jwk_file: Any) -> None:
    """Add a peer's public key (a JWK file: Ed25519 to check its signatures, X25519 to
    encrypt to it). Several keys may be valid at once during a rollover."""
    from app.federation import trust

    text = jwk_file.read()
    with expecting_writes():
        row = _trust_list_change(lambda: trust.add_key(None, trust.peer_by_url(base_url), text))
    click.echo(f"Key {row.kid} ({row.use.value}) added to {base_url}.")


@federation_group.command("revoke-key")
@click.argument("kid")
@with_appcontext
def federation_revoke_key(kid: str) -> None:
    """Revoke a peer's key: packages signed with it are refused from now on."""
    from app.core.db import utcnow
    from app.federation import trust

    with expecting_writes():
        _trust_list_change(lambda: trust.revoke_key(None, kid, now=utcnow()))
    click.echo(f"Key {kid} revoked.")


@federation_group.command("suspend-peer")
@click.argument("base_url")
@with_appcontext
def federation_suspend_peer(base_url: str) -> None:
    """Suspend an installation: nothing is sent to it or accepted from it (keys kept)."""
    from app.federation import trust

    with expecting_writes():
        _trust_list_change(lambda: trust.set_peer_active(None, trust.peer_by_url(base_url), active=False))
    click.echo(f"{base_url} suspended.")


@federation_group.command("reactivate-peer")
@click.argument("base_url")
@with_appcontext
def federation_reactivate_peer(base_url: str) -> None:
    """Take a suspended installation back."""
    from app.federation import trust

    with expecting_writes():
        _trust_list_change(lambda: trust.set_peer_active(None, trust.peer_by_url(base_url), active=True))
    click.echo(f"{base_url} is active again.")


@federation_group.command("keygen")
def federation_keygen() -> None:
    """Print fresh private keys for FEDERATION_SIGNING_KEY and FEDERATION_ENCRYPTION_KEYS
    (keep them as secrets; during a rollover list the new encryption key first)."""
    from app.federation.identity import new_keys

    for name, value in new_keys().items():
        click.echo(f"{name}={value}")


@federation_group.command("identity")
@with_appcontext
def federation_identity() -> None:
    """Print this installation's address and public keys (JWKs) for the peers' trust lists."""
    from app.federation import identity

    if not identity.enabled():
        raise click.ClickException("federation is not configured (FEDERATION_BASE_URL)")
    click.echo(f"{identity.us().installation} {identity.us().country}")
    for jwk in identity.public_jwks():
        click.echo(json.dumps(jwk, sort_keys=True))


@federation_group.command("deliver")
@with_appcontext
def federation_deliver() -> None:
    """Deliver the packages that are due now (the periodic tick does this too)."""
    from app.periodic import federation_tick

    click.echo(federation_tick())


@federation_group.command("list")
@with_appcontext
def federation_list() -> None:
    """The trust list: peers and their keys."""
    from app.federation import trust

    rows = trust.peers()
    if not rows:
        click.echo("The trust list is empty.")
    for peer in rows:
        click.echo(f"{peer.base_url} {peer.country} {'active' if peer.active else 'inactive'}")
        for key in peer.keys:
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "valid"
            click.echo(f"  {key.use.value} {key.kid} {state}")
