"""What the route functions are given: the app's :class:`~m3search.serve.service.Service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service import Service


def get_service(request: Request) -> Service:
    """The service of the app serving ``request`` (``app.state.service``, set by ``create_app``)."""
    service: Service = request.app.state.service
    return service


#: A route parameter annotated with this receives the service.
ServiceDep = Annotated[Service, Depends(get_service)]
