"""The request dependencies every route takes: the viewer, a store session, and what
the viewer may see (web.visibility), resolved once per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from web.identity import Viewer
from web.visibility import Visibility, visibility_of


def current_viewer(request: Request) -> Viewer:
    """The viewer, from the resolver the app was built with (web.identity)."""
    viewer: Viewer = request.app.state.resolve_viewer(request)
    return viewer


@contextmanager
def open_session(request: Request) -> Iterator[Session]:
    """A read-only unit of work on the store: rolled back at the end, never committed."""
    with Session(request.app.state.engine) as session:
        yield session


def store_session(request: Request) -> Iterator[Session]:
    with open_session(request) as session:
        yield session


def admin_viewer(viewer: Viewer = Depends(current_viewer)) -> Viewer:  # noqa: B008
    """The viewer, if an admin; 403 otherwise (the admin page and its form)."""
    if not viewer.is_admin:
        raise HTTPException(403, "the admin page is for members of the admins group only")
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
SessionDep = Annotated[Session, Depends(store_session)]


def visibility(viewer: ViewerDep, session: SessionDep) -> Visibility:
    return visibility_of(session, viewer)


VisibilityDep = Annotated[Visibility, Depends(visibility)]
AdminDep = Annotated[Viewer, Depends(admin_viewer)]
