"""execo: launch and control many local or remote processes at once.

Handles launch and control of several OS level processes concurrently:
start, wait, kill, time out, feed stdin, watch stdout and stderr, expect()
on output, and summarise it all in reports.  A background reactor thread,
started when execo is imported, reads every process's output and handles
its lifecycle, so one script can conduct thousands of processes.
"""

from .action import (
    Action,
    ActionFactory,
    ActionLifecycleHandler,
    ChainPut,
    Get,
    Local,
    ParallelActions,
    Put,
    Remote,
    RemoteSerial,
    SequentialActions,
    TaktukGet,
    TaktukPut,
    TaktukRemote,
    default_action_factory,
    filter_bad_hosts,
    get_fileget,
    get_fileput,
    get_remote,
    wait_all_actions,
    wait_any_actions,
)
from .config import CHAINPUT, SCP, SSH, TAKTUK, configuration, default_connection_params
from .exception import ActionsFailed, ProcessesFailed
from .handlers import STDERR, STDOUT, ExpectOutputHandler, ProcessLifecycleHandler, ProcessOutputHandler
from .host import Host, get_hosts_list, get_hosts_set
from .log import logger
from .process import PortForwarder, Process, ProcessBase, Serial, SerialSsh, SshProcess, TaktukProcess, get_process
from .report import Report
from .substitutions import remote_substitute
from .time_utils import Timer, format_date, format_duration, get_seconds, get_unixts, sleep
from .utils import get_port, memoize

__version__ = "3.0.0.dev0"

__all__ = [
    "configuration",
    "default_connection_params",
    "SSH",
    "TAKTUK",
    "SCP",
    "CHAINPUT",
    "logger",
    "Host",
    "get_hosts_list",
    "get_hosts_set",
    "Report",
    "Timer",
    "sleep",
    "get_unixts",
    "get_seconds",
    "format_date",
    "format_duration",
    "memoize",
    "get_port",
    "ProcessesFailed",
    "ActionsFailed",
    "STDOUT",
    "STDERR",
    "ProcessLifecycleHandler",
    "ProcessOutputHandler",
    "ExpectOutputHandler",
    "ProcessBase",
    "Process",
    "SshProcess",
    "PortForwarder",
    "get_process",
    "Action",
    "Local",
    "ParallelActions",
    "SequentialActions",
    "ActionLifecycleHandler",
    "wait_any_actions",
    "wait_all_actions",
    "filter_bad_hosts",
    "remote_substitute",
    "Remote",
    "Put",
    "Get",
    "ActionFactory",
    "default_action_factory",
    "get_remote",
    "get_fileput",
    "get_fileget",
    "TaktukProcess",
    "TaktukRemote",
    "TaktukPut",
    "TaktukGet",
    "ChainPut",
    "Serial",
    "SerialSsh",
    "RemoteSerial",
]
