"""Who is looking: the `Viewer` every page, JSON endpoint and CSV download is served to.

One resolver per app turns a request into a Viewer (the identity seam): the trial's
(`trial_viewer`: no sign-in, everyone an admin and manager, allowed only on a loopback
address), production sign-in's (web.signin: Entra ID, the signed session cookie), and
in tests whatever `create_app` is given. There is deliberately no setting that
installs a resolver: only code that builds the app can.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request


@dataclass(frozen=True, slots=True)
class Viewer:
    """A person using the app: their system user (None in the trial), and their roles."""

    system_user_id: str | None
    name: str
    is_manager: bool = False
    is_admin: bool = False
    address: str | None = None  # the address they signed in with (the audit's actor)


ViewerResolver = Callable[[Request], Viewer]

TRIAL_VIEWER = Viewer(system_user_id=None, name="Trial user", is_manager=True, is_admin=True)


def trial_viewer(request: Request) -> Viewer:
    """The trial's viewer: no sign-in, so everyone sees everything (loopback only)."""
    return TRIAL_VIEWER


def is_loopback(host: str) -> bool:
    """Whether a listen address only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False
