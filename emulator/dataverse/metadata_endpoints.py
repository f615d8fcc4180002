"""The metadata endpoints (EntityDefinitions, Attributes) as handlers of the service."""

from __future__ import annotations

from typing import Any

from emulator.dataverse import metadata
from emulator.dataverse.calls import Call, require_method
from emulator.dataverse.errors import DataverseError
from emulator.dataverse.http import ApiResponse, json_response, no_content
from emulator.dataverse.privileges import privilege_denied
from emulator.dataverse.store import Store, TableData


class MetadataEndpoints:
    """Mixed into DataverseService, which routes `_{kind}` to these methods."""

    store: Store

    async def _entities(self, call: Call) -> ApiResponse:
        require_method(call, "GET")
        items = [metadata.entity_definition(d.table) for d in self.store.tables.values()]
        context = f"{call.request.base_url}/$metadata#EntityDefinitions"
        return json_response(metadata.listing(items, call.request.query, context))

    def _entity_data(self, call: Call) -> TableData:
        logical = call.params.get("logical")
        if logical:
            data = self.store.logical(logical)
        else:
            wanted = (call.params.get("entity_id") or "").lower()
            data = next(
                (
                    d
                    for d in self.store.tables.values()
                    if metadata.metadata_id(d.table.logical_name) == wanted
                ),
                None,
            )
        if data is None:
            raise DataverseError(
                404, "0x80040217", f"Could not find entity with name or id '{logical}'."
            )
        return data

    async def _entity(self, call: Call) -> ApiResponse:
        require_method(call, "GET")
        definition = metadata.entity_definition(self._entity_data(call).table)
        definition["@odata.context"] = (
            f"{call.request.base_url}/$metadata#EntityDefinitions/$entity"
        )
        return json_response(definition)

    def _attribute_items(self, data: TableData) -> list[dict[str, Any]]:
        return [metadata.attribute_definition(data.table, c) for c in data.table.columns.values()]

    async def _attributes(self, call: Call) -> ApiResponse:
        data = self._entity_data(call)
        if call.request.method == "POST":
            return self._create_attribute(call, data)
        require_method(call, "GET")
        context = (
            f"{call.request.base_url}/$metadata#EntityDefinitions"
            f"('{data.table.logical_name}')/Attributes"
        )
        return json_response(
            metadata.listing(self._attribute_items(data), call.request.query, context)
        )

    async def _attributes_cast(self, call: Call) -> ApiResponse:
        require_method(call, "GET")
        data = self._entity_data(call)
        cast = f"#Microsoft.Dynamics.CRM.{call.params['cast']}"
        items = [i for i in self._attribute_items(data) if i.get("@odata.type") == cast]
        query = {k: v for k, v in call.request.query.items() if k != "$expand"}
        listed = metadata.listing(items, query, f"{call.request.base_url}/$metadata#{cast}")
        if "OptionSet" in call.request.query.get("$expand", ""):
            by_id = {i["MetadataId"]: i for i in items}
            for entry in listed["value"]:
                entry["OptionSet"] = by_id[entry["MetadataId"]].get("OptionSet", {"Options": []})
        return json_response(listed)

    async def _attribute(self, call: Call) -> ApiResponse:
        require_method(call, "GET")
        data = self._entity_data(call)
        wanted_name = call.params.get("attribute")
        wanted_id = (call.params.get("attribute_id") or "").lower()
        for item in self._attribute_items(data):
            if item["LogicalName"] == wanted_name or item["MetadataId"] == wanted_id:
                return json_response(item)
        raise DataverseError(
            404, "0x80040217", f"Could not find attribute '{wanted_name or wanted_id}'."
        )

    def _create_attribute(self, call: Call, data: TableData) -> ApiResponse:
        if not call.user.customize:
            raise privilege_denied(call.user, "prvCreateAttribute", data)
        _, attribute_id = metadata.create_attribute(
            data.table, call.request.json(), call.request.header("mscrm.solutionuniquename")
        )
        entity_id = metadata.metadata_id(data.table.logical_name)
        return no_content(
            {
                "OData-EntityId": (
                    f"{call.request.base_url}/EntityDefinitions({entity_id})/Attributes"
                    f"({attribute_id})"
                )
            }
        )
