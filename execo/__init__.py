"""execo: launch and control many local or remote processes at once.

Handles launch and control of several OS level processes concurrently:
start, wait, kill, time out, feed stdin, watch stdout and stderr, expect()
on output, and summarise it all in reports.  A background reactor thread,
started when execo is imported, reads every process's output and handles
its lifecycle, so one script can conduct thousands of processes.
"""

from .config import configuration, default_connection_params, SSH, TAKTUK, SCP, CHAINPUT
from .log import logger
from .host import Host, get_hosts_list, get_hosts_set
from .report import Report
from .time_utils import (Timer, sleep, get_unixts, get_seconds, format_date,
                         format_duration)
from .utils import memoize, get_port
from .exception import ProcessesFailed, ActionsFailed
from .handlers import (STDOUT, STDERR, ProcessLifecycleHandler, ProcessOutputHandler,
                       ExpectOutputHandler)
from .process import (ProcessBase, Process, SshProcess, PortForwarder, TaktukProcess, Serial,
                      SerialSsh, get_process)
from .action import (Action, Local, ParallelActions, SequentialActions, ActionLifecycleHandler,
                     wait_any_actions, wait_all_actions, filter_bad_hosts, Remote, Put, Get,
                     ActionFactory, default_action_factory, get_remote, get_fileput, get_fileget,
                     TaktukRemote, TaktukPut, TaktukGet, ChainPut, RemoteSerial)
from .substitutions import remote_substitute

__version__ = "3.0.0.dev0"

__all__ = [
    "configuration", "default_connection_params", "SSH", "TAKTUK", "SCP", "CHAINPUT",
    "logger", "Host", "get_hosts_list", "get_hosts_set", "Report", "Timer", "sleep",
    "get_unixts", "get_seconds", "format_date", "format_duration", "memoize", "get_port",
    "ProcessesFailed", "ActionsFailed", "STDOUT", "STDERR", "ProcessLifecycleHandler", "ProcessOutputHandler",
    "ExpectOutputHandler", "ProcessBase", "Process", "SshProcess", "PortForwarder", "get_process",
    "Action", "Local", "ParallelActions", "SequentialActions", "ActionLifecycleHandler",
    "wait_any_actions", "wait_all_actions", "filter_bad_hosts", "remote_substitute",
    "Remote", "Put", "Get", "ActionFactory", "default_action_factory", "get_remote",
    "get_fileput", "get_fileget", "TaktukProcess", "TaktukRemote", "TaktukPut", "TaktukGet",
    "ChainPut", "Serial", "SerialSsh", "RemoteSerial",
]
