"""Dataverse Web API errors: `{"error": {"code": "0x8004...", "message": ...}}` and a status.

Codes are the hexadecimal forms Dataverse puts in Web API error bodies.
"""

from __future__ import annotations

from typing import Any

from emulator.errors import ServiceError

NOT_FOUND = "0x80040217"  # ObjectDoesNotExist
PRIVILEGE_DENIED = "0x80040220"  # PrivilegeDenied: principal is missing a privilege
NOT_MEMBER = "0x80072560"  # the caller has no (application) user in the environment
BAD_PAYLOAD = "0x80060888"  # OData validation: unknown property, bad literal, bad query
PAYLOAD_ERROR = "0x80048d19"  # "Error identified in Payload": e.g. an undeclared navigation
EXPIRED_VERSION_STAMP = "0x80044352"  # change tracking: delta token too old, full sync needed
DUPLICATE_ATTRIBUTE = "0x80047013"  # a column with that schema name exists on the table
DUPLICATE_RECORD = "0x80040237"  # create with an id that exists
THROTTLED_REQUESTS = "0x80072322"  # -2147015902: number of requests over the window
THROTTLED_EXECUTION = "0x80072321"  # -2147015903: combined execution time
THROTTLED_CONCURRENCY = "0x80072326"  # -2147015898: concurrent requests


class DataverseError(ServiceError):
    """Rendered as the Web API's error body with `status`."""

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str) -> DataverseError:
    return DataverseError(400, BAD_PAYLOAD, message)


def unknown_property(name: str, logical_name: str) -> DataverseError:
    return bad_request(
        f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{logical_name}'. "
        "Make sure to only use property names that are defined by the type or mark the type "
        "as open type."
    )


def undeclared_property(entity_set: str, name: str) -> DataverseError:
    """A `name@odata.bind` whose name is no single-valued navigation property of the table
    (Microsoft's "Web API client errors" page prints this body; the stack trace that
    follows the message in Dataverse is left out)."""
    return DataverseError(
        400,
        PAYLOAD_ERROR,
        f"Error identified in Payload provided by the user for Entity :'{entity_set}', For "
        "more information on this error please follow this help link "
        "https://go.microsoft.com/fwlink/?linkid=2195293 ---->  InnerException : "
        f"Microsoft.OData.ODataException: An undeclared property '{name}' which only has "
        "property annotations in the payload but no property value was found in the "
        "payload. In OData, only declared navigation properties and declared named streams "
        "can be represented as properties without values.",
    )


def record_not_found(logical_name: str, record_id: str) -> DataverseError:
    return DataverseError(
        404, NOT_FOUND, f"Entity '{logical_name}' With Id = {record_id} Does Not Exist"
    )


def resource_not_found(segment: str) -> DataverseError:
    return DataverseError(404, "0x8006088a", f"Resource not found for the segment '{segment}'.")
