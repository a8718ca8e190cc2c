"""Which action class makes a remote execution or a file copy: ssh/scp,
taktuk or chainput, chosen per :class:`ActionFactory` or by
``configuration['remote_tool']``, ``['fileput_tool']``,
``['fileget_tool']``.

It sits above every action module (it imports them all, none imports
it); ``execo.action`` re-exports it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

from .action_base import Action
from .chainput import ChainPut
from .config import CHAINPUT, SCP, SSH, TAKTUK, configuration
from .remote import Get, Put, Remote
from .substitutions import frame_transparent
from .taktuk import TaktukRemote
from .taktuk_transfer import TaktukGet, TaktukPut

__all__ = ["ActionFactory", "default_action_factory", "get_remote", "get_fileput", "get_fileget"]


_TOOL_NAMES: Dict[object, str] = {SSH: "SSH", SCP: "SCP", TAKTUK: "TAKTUK", CHAINPUT: "CHAINPUT"}

#: kind -> {tool: the action class}
_ACTION_TABLE: Dict[str, Dict[int, Type[Action]]] = {
    "remote": {SSH: Remote, TAKTUK: TaktukRemote},
    "fileput": {SCP: Put, TAKTUK: TaktukPut, CHAINPUT: ChainPut},
    "fileget": {SCP: Get, TAKTUK: TaktukGet},
}


def _tool_name(tool: object) -> str:
    return _TOOL_NAMES.get(tool, repr(tool))


def _action_class(kind: str, tool: object) -> Type[Action]:
    table = _ACTION_TABLE[kind]
    if tool not in table:
        raise ValueError(
            "invalid %s_tool %s: must be one of %s" % (kind, _tool_name(tool), ", ".join(_tool_name(t) for t in table))
        )
    return table[tool]


class ActionFactory(object):
    """Instanciate multiple remote process execution and file copies using
    configurable connector tools: ssh, scp, taktuk"""

    def __init__(
        self, remote_tool: Optional[int] = None, fileput_tool: Optional[int] = None, fileget_tool: Optional[int] = None
    ) -> None:
        """
        :param remote_tool: can be :data:`execo.config.SSH` or
          :data:`execo.config.TAKTUK`
        :param fileput_tool: can be :data:`execo.config.SCP`,
          :data:`execo.config.TAKTUK` or :data:`execo.config.CHAINPUT`
        :param fileget_tool: can be :data:`execo.config.SCP` or
          :data:`execo.config.TAKTUK`

        None (the default) means: ``configuration['remote_tool']``
        (``'fileput_tool'``, ``'fileget_tool'``) at the time an action is
        instanciated.
        """
        for kind, tool in (("remote", remote_tool), ("fileput", fileput_tool), ("fileget", fileget_tool)):
            if tool is not None and tool not in _ACTION_TABLE[kind]:
                raise ValueError(
                    "invalid %s_tool %s: must be one of %s"
                    % (kind, _tool_name(tool), ", ".join(_tool_name(t) for t in _ACTION_TABLE[kind]))
                )
        self.remote_tool = remote_tool
        self.fileput_tool = fileput_tool
        self.fileget_tool = fileget_tool

    def _tool(self, kind: str) -> Any:
        tool = getattr(self, kind + "_tool")
        if tool is None:
            tool = configuration.get(kind + "_tool")
        return tool

    def _class(self, kind: str) -> Type[Action]:
        return _action_class(kind, self._tool(kind))

    @frame_transparent
    def get_remote(self, *args: Any, **kwargs: Any) -> Action:
        """Instanciates a :class:`execo.action.Remote` or
        :class:`execo.action.TaktukRemote`"""
        return self._class("remote")(*args, **kwargs)

    @frame_transparent
    def get_fileput(self, *args: Any, **kwargs: Any) -> Action:
        """Instanciates a :class:`execo.action.Put`,
        :class:`execo.action.TaktukPut` or :class:`execo.action.ChainPut`"""
        return self._class("fileput")(*args, **kwargs)

    @frame_transparent
    def get_fileget(self, *args: Any, **kwargs: Any) -> Action:
        """Instanciates a :class:`execo.action.Get` or
        :class:`execo.action.TaktukGet`"""
        return self._class("fileget")(*args, **kwargs)

    def __repr__(self) -> str:
        return "ActionFactory(remote_tool=%r, fileput_tool=%r, fileget_tool=%r)" % (
            self.remote_tool,
            self.fileput_tool,
            self.fileget_tool,
        )


#: the default :class:`ActionFactory` (tools from :data:`execo.config.configuration`)
default_action_factory = ActionFactory()


@frame_transparent
def get_remote(*args: Any, **kwargs: Any) -> Action:
    """Instanciates a :class:`execo.action.Remote` or
    :class:`execo.action.TaktukRemote` with the default factory"""
    return default_action_factory.get_remote(*args, **kwargs)


@frame_transparent
def get_fileput(*args: Any, **kwargs: Any) -> Action:
    """Instanciates a :class:`execo.action.Put` or
    :class:`execo.action.TaktukPut` with the default factory"""
    return default_action_factory.get_fileput(*args, **kwargs)


@frame_transparent
def get_fileget(*args: Any, **kwargs: Any) -> Action:
    """Instanciates a :class:`execo.action.Get` or
    :class:`execo.action.TaktukGet` with the default factory"""
    return default_action_factory.get_fileget(*args, **kwargs)
