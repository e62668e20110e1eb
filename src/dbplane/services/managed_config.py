"""A managed server's settings (``PATCH /v1/databases/{db}`` with ``config``): each name
and value checked against the server's own catalogue before anything changes; what the
server applies live is applied at once (configuration file, then reload or SET), what
needs a restart is saved as pending with its old and new value until a redeploy."""

from __future__ import annotations

from dbplane.errors import InvalidSettingValue, ServerNotRunning, UnknownSetting
from dbplane.meta.records import DatabaseRecord
from dbplane.services import managed
from dbplane.services.context import AppContext

__all__ = ["set_config"]


async def set_config(ctx: AppContext, row: DatabaseRecord, values: dict[str, str]) -> None:
    """Validate every setting, then apply the live ones and save the others as pending.

    NotManaged for a database dbplane does not run; ServerNotRunning when its server is
    down (its catalogue is read from it); UnknownSetting or InvalidSettingValue naming
    the first setting at fault, with nothing changed."""
    handle = await managed.handle_for(ctx, row)
    view = await managed.managed_view(ctx, row)
    if view is None or view.state != "running":
        raise ServerNotRunning(f"the server of {row.resource_id!r} is "
                               f"{view.state if view else 'missing'}; start it to change "
                               "its settings", database=row.resource_id)
    server, url = handle.server, handle.url
    catalogue = await server.catalogue(url, sorted(values))
    for name, value in values.items():
        if name not in catalogue:
            raise UnknownSetting(f"the {row.type_name} server has no setting {name!r}",
                                 field=f"config.{name}", setting=name)
        reason = await server.validate(url, name, value)
        if reason == "unknown":
            raise UnknownSetting(f"the {row.type_name} server has no setting {name!r}",
                                 field=f"config.{name}", setting=name)
        if reason is not None:
            raise InvalidSettingValue(f"{name} = {value!r} is refused: {reason}",
                                      field=f"config.{name}", setting=name, value=value)
    record = handle.record
    live = {n: v for n, v in values.items() if not catalogue[n].restart}
    pending = dict(record.pending)
    for name, value in values.items():
        if name in live:
            pending.pop(name, None)
            continue
        old = catalogue[name].value
        if value == old:
            pending.pop(name, None)
        else:
            pending[name] = {"old_value": old, "new_value": value}
    settings = {**record.settings, **live}
    if live:
        await managed.write_config(ctx, handle, settings)
        try:
            await server.apply_live(url, live)
        except BaseException:
            await managed.write_config(ctx, handle, record.settings)
            raise
    await managed.save_server(ctx, handle, settings=settings, pending=pending)
