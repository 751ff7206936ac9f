"""``consentkit staff``: create staff accounts and reset lost authenticators."""

from __future__ import annotations

import click

from consentkit import db, settings
from consentkit.errors import ConsentKitError
from consentkit.models.staff import StaffMember
from consentkit.policy.roles import ALL_SITES, Grant, StaffRole
from consentkit.services import staff as staff_service


@click.group("staff")
def staff() -> None:
    """Manage staff accounts (the first sponsor admin is bootstrapped here)."""


def setup_link(token: str) -> str:
    """Return the one-time setup page address for ``token``."""
    return f"{settings.public_url()}/staff/setup/{token}"


@staff.command("create")
@click.option("--email", required=True, help="The member's e-mail address (their sign-in name).")
@click.option("--name", required=True, help="Full name, as shown on countersignatures.")
@click.option("--study", "trial_id", required=True, help="Trial id, e.g. DEMO-NBL-1.")
@click.option("--admin", is_flag=True, help="Sponsor admin: all sites, manages forms and staff.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in StaffRole]),
    default=None,
    help="Role when not --admin.",
)
@click.option("--site", "sites", multiple=True, help="A site code (repeat for several).")
@click.option("--locale", default="en", show_default=True, help="Language of the staff pages.")
def create(
    email: str,
    name: str,
    trial_id: str,
    admin: bool,
    role: str | None,
    sites: tuple[str, ...],
    locale: str,
) -> None:
    """Create an account and print its one-time setup link (valid 72 hours).

    The member opens the link, chooses a password, scans the QR code with an
    authenticator app and receives ten recovery codes.
    """
    if admin == bool(role):
        raise click.UsageError("Give either --admin or --role.")
    chosen = StaffRole.SPONSOR_ADMIN if admin else StaffRole(role or "")
    if chosen != StaffRole.SPONSOR_ADMIN and not sites:
        raise click.UsageError("Site roles need at least one --site.")
    db.connect()
    grant = Grant(trial_id, chosen, (ALL_SITES,) if admin else tuple(sites))
    try:
        member, token = staff_service.create_staff(
            email=email, name=name, grants=[grant], created_by="cli", locale=locale
        )
    except ConsentKitError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created {member.email} ({chosen.value}).")
    click.echo(f"One-time setup link (valid 72 hours): {setup_link(token)}")


@staff.command("reset")
@click.option("--email", required=True, help="The member whose phone or password was lost.")
def reset(email: str) -> None:
    """End the member's sessions and print a new setup link (11.300(c): loss management)."""
    db.connect()
    member = StaffMember.objects(email=staff_service.normalise_email(email)).first()
    if member is None:
        raise click.ClickException("No account with this e-mail address.")
    token = staff_service.reissue_setup(str(member.id), by="cli")
    click.echo(f"New one-time setup link (valid 72 hours): {setup_link(token)}")
