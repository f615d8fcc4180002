"""The request dependencies every route takes: the viewer, a store session, and what
the viewer may see (web.visibility), resolved once per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from web.identity import Viewer
from web.visibility import Visibility, visibility_of


def current_viewer(request: Request) -> Viewer:
    """The viewer, from the resolver the app was built with (web.identity)."""
    viewer: Viewer = request.app.state.resolve_viewer(request)
    return viewer


def store_session(request: Request) -> Iterator[Session]:
    """A read-only unit of work on the store: rolled back at the end, never committed."""
    with Session(request.app.state.engine) as session:
        yield session


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
SessionDep = Annotated[Session, Depends(store_session)]


def visibility(viewer: ViewerDep, session: SessionDep) -> Visibility:
    return visibility_of(session, viewer)


VisibilityDep = Annotated[Visibility, Depends(visibility)]
