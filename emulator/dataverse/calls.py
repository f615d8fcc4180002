"""What a handler gets: the request, its caller and route parameters."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.dataverse.environment import ApplicationUser
from emulator.dataverse.errors import DataverseError
from emulator.dataverse.http import ApiRequest


@dataclass
class Call:
    request: ApiRequest
    user: ApplicationUser
    params: dict[str, str]
    in_batch: bool


def require_method(call: Call, allowed: str) -> None:
    if call.request.method != allowed:
        raise not_allowed(call.request.method)


def not_allowed(method: str) -> DataverseError:
    return DataverseError(405, "0x80060888", f"The HTTP method '{method}' is not allowed here.")
