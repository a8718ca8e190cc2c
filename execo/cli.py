"""The ``execo`` command: run a command, or copy files, on many hosts.

::

    execo [OPTIONS] COMMAND...            run COMMAND (a shell command line)
    execo [OPTIONS] run COMMAND...        the same, when COMMAND is "put" or "get"
    execo [OPTIONS] put FILE... DEST      copy local files to DEST on the hosts
    execo [OPTIONS] get FILE... DEST      copy remote files to the local DEST

Hosts come from ``-H`` (repeatable; comma-separated; node-set ranges such
as ``node[1-100]`` or ``127.0.0.[1-32]``, expanded by ClusterShell's
NodeSet: ``pip install 'execo[cli]'``) and ``-h FILE`` (one host or range
per line, ``#`` comments). With no host, the command runs locally.

The option letters are those of ssh and parallel-ssh: ``-l`` user, ``-p``
port, ``-i`` identity file, ``-o`` ssh option, ``-t`` timeout (seconds or
an execo duration), ``--taktuk`` to go through the taktuk tree launcher
instead of one ssh per host, ``--json`` for scripts, ``--progress`` for a
live count on stderr (a tty), ``--joblog FILE`` for one JSON line per
host as it ends, ``--retry-failed FILE`` to run again what failed in such
a log, ``--timeline FILE`` for a picture of the run.

Names are data: ``{{{host}}}`` in the command and in get paths is
replaced by each host's address (put's operands are taken literally),
but no other ``{{...}}`` is evaluated
(``docker inspect -f '{{.State.Running}}'`` is passed as written), unless
``--eval`` asks for execo's ``{{expression}}`` substitution in the
command (never in file operands: a file named ``{{...}}`` in a directory
given to ``put *`` stays a name). Options come before the command: what
follows ``run``, ``put`` or ``get`` is operands, never options (a file
named ``-oProxyCommand=...`` first in a glob stays a name). Host names
that cannot be real (a leading ``-``, whitespace, shell characters) are a
usage error.

Output: the outputs of the hosts, identical
ones folded (hosts listed in range syntax), the hosts by exit status, and
execo's Report. The exit status is 0 when every host succeeded, 1 when
some failed, 2 for a usage error.

Built on execo's own actions (:class:`execo.action.Remote`,
:class:`~execo.action.TaktukRemote`, :class:`~execo.action.Put`,
:class:`~execo.action.Get`, their taktuk variants,
:class:`~execo.action.Local`).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple, Type, Union

from .action import Get, Local, Put, Remote, TaktukGet, TaktukPut, TaktukRemote
from .host import Host
from .log import logger
from .report import Report
from .substitutions import no_expressions
from .time_utils import get_seconds

if TYPE_CHECKING:
    from .action import Action
    from .process_base import ProcessBase

USAGE_ERROR = 2


class UsageError(Exception):
    """A bad command line (exit status 2)."""


# ------------------------------------------------------------ node sets


def _nodeset() -> Any:  # the NodeSet class or None: ClusterShell has no type information
    try:
        from ClusterShell.NodeSet import NodeSet  # optional extra "cli"
    except ImportError:
        return None
    return NodeSet


def expand_hosts(specs: Iterable[str]) -> List[str]:
    """Host names from ``-H`` values: comma-separated, with node-set
    ranges (``node[1-3,7]``) expanded by ClusterShell when present.
    Duplicates are kept once, in order."""
    hosts: List[str] = []
    seen = set()
    NodeSet = _nodeset()
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        if "[" in spec:
            if NodeSet is None:
                raise UsageError("host ranges such as %r need ClusterShell: pip install 'execo[cli]'" % (spec,))
            try:
                names = list(NodeSet(spec))
            except Exception as e:  # ClusterShell's parse errors
                raise UsageError("bad host range %r: %s" % (spec, e)) from None
        else:
            names = [n.strip() for n in spec.split(",") if n.strip()]
        for name in names:
            if name not in seen:
                seen.add(name)
                hosts.append(name)
    return hosts


def read_hosts_file(path: str) -> List[str]:
    """The host specs of a hosts file: one host or range per line, blank
    lines and ``#`` comments ignored (``user@host`` is not parsed: use -l)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UsageError("cannot read hosts file %s: %s" % (path, e.strerror)) from None
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def fold(names: Sequence[str]) -> str:
    """Host names in range syntax (``node[1-3],other``) when ClusterShell
    is there, else comma-separated."""
    NodeSet = _nodeset()
    if NodeSet is not None:
        try:
            return str(NodeSet.fromlist(list(names)))
        except Exception:
            pass
    return ",".join(names)


# ------------------------------------------------------------ arguments


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="execo",
        add_help=False,
        usage="execo [OPTIONS] [run] COMMAND... | put FILE... DEST | get FILE... DEST",
        description="Run a command, or copy files, on many hosts at once (ssh or taktuk).",
    )
    p.add_argument("--help", action="help", help="show this help and exit")
    p.add_argument(
        "-H",
        "--hosts",
        action="append",
        default=[],
        metavar="HOSTS",
        help="hosts: names, comma lists, ranges like node[1-100] (repeatable)",
    )
    p.add_argument(
        "-h",
        "--hosts-file",
        action="append",
        default=[],
        metavar="FILE",
        help="file of hosts, one host or range per line (repeatable)",
    )
    p.add_argument("-l", "--user", help="remote user")
    p.add_argument("-p", "--port", type=int, help="ssh port")
    p.add_argument("-i", "--identity", metavar="KEYFILE", help="ssh identity (private key) file")
    p.add_argument(
        "-o",
        "--ssh-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="ssh option, as ssh -o OPTION (repeatable)",
    )
    p.add_argument(
        "--fast-handshake",
        action="store_true",
        help="prefer the curve25519-sha256 key exchange: first contact about 8 times cheaper"
        " in CPU, without post-quantum protection (the ssh_fast_handshake"
        " connection param)",
    )
    p.add_argument(
        "-t", "--timeout", metavar="SECONDS", help="timeout of each host's command (seconds or execo duration)"
    )
    p.add_argument(
        "-f",
        "--fanout",
        type=int,
        metavar="N",
        help="at most N ssh/scp connections at once (like clush -f); "
        "the other hosts wait for a slot (default: no limit but the fd budget)",
    )
    p.add_argument("--taktuk", action="store_true", help="go through taktuk instead of ssh")
    p.add_argument(
        "--eval",
        action="store_true",
        help="evaluate execo's {{expression}} substitutions in the command (Python; "
        "off by default, never in file operands)",
    )
    p.add_argument(
        "--joblog",
        metavar="FILE",
        help="append one JSON line per host to FILE as each one ends (execo.joblog)",
    )
    p.add_argument(
        "--retry-failed",
        metavar="FILE",
        help="run again what did not finish ok in the job log FILE (its commands, or the"
        " COMMAND given, on its hosts); the results are appended to FILE (or --joblog)",
    )
    p.add_argument(
        "--timeline",
        metavar="FILE",
        help="draw the run as a timeline picture (.png, .svg or .pdf; needs execo[plot])",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("--progress", action="store_true", help="live progress on stderr (when it is a terminal)")
    p.add_argument("--no-report", action="store_true", help="do not print execo's Report")
    p.add_argument("-v", "--verbose", action="store_true", help="execo's own log messages")
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def parse(argv: Sequence[str]) -> Tuple[argparse.Namespace, str, List[str]]:
    """(options, mode, words): mode is run/put/get."""
    parser = _parser()
    try:
        ns = parser.parse_args(list(argv))
    except SystemExit as e:
        if e.code == 0:
            raise
        raise UsageError("bad arguments (execo --help)") from None
    # Options come before the command; what follows the subcommand is all
    # operands, never parsed for options (not even "--"): put's FILEs are
    # often a shell glob's names, and a file named "-oProxyCommand=..."
    # or "--" must stay a file name.
    words = list(ns.args)
    mode = "run"
    if words and words[0] in ("run", "put", "get"):
        mode = words.pop(0)
    if ns.retry_failed is not None:
        if ns.hosts or ns.hosts_file:
            raise UsageError("--retry-failed takes its hosts from the job log, not from -H/-h")
    elif not words:
        raise UsageError("no command given (execo --help)")
    if ns.timeline is not None:
        _check_timeline(ns.timeline)
    if mode in ("put", "get") and len(words) < 2:
        raise UsageError("%s needs FILE... DEST" % (mode,))
    if ns.timeout is not None:
        try:
            ns.timeout = get_seconds(ns.timeout)
        except Exception:
            raise UsageError("bad timeout %r" % (ns.timeout,)) from None
        if not 0 < ns.timeout < float("inf"):
            raise UsageError("the timeout must be a positive duration, not %r" % (ns.timeout,))
    if ns.port is not None and not 0 < ns.port < 65536:
        raise UsageError("bad port %r" % (ns.port,))
    return ns, mode, words


def _check_timeline(path: str) -> None:
    """A usage error before the run, not a failure after it."""
    import importlib.util

    from .timeline import FORMATS

    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise UsageError("--timeline needs a .png, .svg or .pdf file, not %r" % (path,))
    if importlib.util.find_spec("matplotlib") is None:  # optional extra "plot"
        raise UsageError("--timeline needs matplotlib: pip install 'execo[plot]'")


def connection_params(ns: argparse.Namespace) -> Dict[str, Any]:
    params: Dict[str, Any] = {}
    if ns.user:
        params["user"] = ns.user
    if ns.port:
        params["port"] = ns.port
    if ns.identity:
        params["keyfile"] = ns.identity
    if ns.fast_handshake:
        params["ssh_fast_handshake"] = True
    if ns.ssh_option:
        from .config import default_connection_params

        extra: Tuple[str, ...] = ()
        for option in ns.ssh_option:
            extra += ("-o", option)
        # before execo's defaults: ssh keeps the first value given for an
        # option, so -o BatchMode=no (say) overrides the default
        params["ssh_options"] = extra + tuple(default_connection_params["ssh_options"])
        params["scp_options"] = extra + tuple(default_connection_params["scp_options"])
        params["taktuk_connector_options"] = extra + tuple(default_connection_params["taktuk_connector_options"])
    return params


def _process_args(ns: argparse.Namespace) -> Dict[str, Any]:
    process_args: Dict[str, Any] = {"nolog_exit_code": True, "nolog_error": True, "nolog_timeout": True}
    if ns.timeout is not None:
        process_args["timeout"] = ns.timeout
    return process_args


def build_action(ns: argparse.Namespace, mode: str, words: List[str], hosts: List[str]) -> Action:
    """The execo action for the command line."""
    process_args = _process_args(ns)
    if mode == "run":
        command = " ".join(words)
        if not hosts:
            process_args["shell"] = True
            return Local(command, process_args=process_args, name="execo " + command)
        cls: Union[Type[Remote], Type[TaktukRemote], Type[Put], Type[TaktukPut], Type[Get], Type[TaktukGet]]
        cls = TaktukRemote if ns.taktuk else Remote
        params = connection_params(ns)
        if ns.eval:
            return cls(command, _hosts(hosts), connection_params=params, process_args=process_args, **_fanout(ns))
        with no_expressions():
            return cls(command, _hosts(hosts), connection_params=params, process_args=process_args, **_fanout(ns))
    if not hosts:
        raise UsageError("%s needs hosts (-H or -h)" % (mode,))
    files, dest = words[:-1], words[-1]
    if mode == "put":
        cls = TaktukPut if ns.taktuk else Put
    else:
        cls = TaktukGet if ns.taktuk else Get
    # file operands are never evaluated; put's are local names (a shell
    # glob's), taken literally: a file may be named {{{host}}}
    with no_expressions(host=(mode == "get")):
        action = cls(_hosts(hosts), files, dest, connection_params=connection_params(ns), **_fanout(ns))
    for p in action.processes:
        for name, value in process_args.items():
            setattr(p, name, value)
    return action


def build_retry(ns: argparse.Namespace, mode: str, words: List[str]) -> Optional[Action]:
    """The action running again the failed jobs of ``ns.retry_failed``
    (see :func:`execo.joblog.failed`): ``words`` (a command, put or get)
    on their hosts, or else each job's own recorded command, run as it
    was (remote, or local: through ``sh -c`` if it was); None when
    nothing failed. The job log is trusted like a script: it names the
    commands to run; its host names are checked as -H's are."""
    from .action import ParallelActions
    from .joblog import failed

    try:
        jobs = failed(ns.retry_failed)
    except (OSError, ValueError) as e:
        raise UsageError("cannot read the job log: %s" % (e,)) from None
    if not jobs:
        return None
    if words:
        hosts = _record_hosts(jobs)
        if not hosts and mode != "run":
            raise UsageError("%s needs hosts: the failed jobs of %s are local" % (mode, ns.retry_failed))
        return build_action(ns, mode, words, hosts)  # type: ignore[arg-type]  # Host objects are accepted
    actions: List[Action] = []
    groups: Dict[Any, List[Dict[str, Any]]] = {}
    for job in jobs:
        cmd = job.get("cmd")
        if not isinstance(cmd, (str, list)) or not cmd:
            raise UsageError("a job of the log has no command to run again: %r" % (job.get("name"),))
        key = (tuple(cmd) if isinstance(cmd, list) else cmd, bool(job.get("host")), bool(job.get("shell")))
        groups.setdefault(key, []).append(job)
    for (_, remote, shell), group in groups.items():
        cmd = group[0]["cmd"]
        if remote:
            command = cmd if isinstance(cmd, str) else " ".join(cmd)
            cls: Union[Type[Remote], Type[TaktukRemote]] = TaktukRemote if ns.taktuk else Remote
            with no_expressions():
                actions.append(
                    cls(
                        command,
                        _record_hosts(group),
                        connection_params=connection_params(ns),
                        process_args=_process_args(ns),
                        **_fanout(ns),
                    )
                )
        else:
            args = dict(_process_args(ns), shell=shell)
            for _ in group:
                with no_expressions():
                    actions.append(Local(cmd, process_args=args, name="execo " + str(cmd)))
    return actions[0] if len(actions) == 1 else ParallelActions(actions)


def _record_hosts(jobs: List[Dict[str, Any]]) -> List[Host]:
    from .joblog import hosts_of

    try:
        return hosts_of(jobs)
    except (TypeError, ValueError) as e:
        raise UsageError("a host of the job log: %s" % (e,)) from None


def _fanout(ns: argparse.Namespace) -> Dict[str, Any]:
    """The action's fan-out window (-f N): ssh and scp only, taktuk
    deploys through its own tree."""
    if ns.fanout is None:
        return {}
    if ns.fanout < 1:
        raise UsageError("-f/--fanout needs a number >= 1, not %d" % (ns.fanout,))
    if ns.taktuk:
        raise UsageError("-f/--fanout is for ssh and scp: taktuk deploys through its own tree")
    return {"fanout": ns.fanout}


def _hosts(names: List[str]) -> List[Host]:
    hosts = []
    for name in names:
        try:
            hosts.append(Host(name))
        except ValueError as e:
            raise UsageError(str(e)) from None
    return hosts


# ------------------------------------------------------------ results


def host_of(process: ProcessBase) -> str:
    host = getattr(process, "host", None)
    return host.address if host is not None else "local"


def status_of(process: ProcessBase) -> str:
    """One word or phrase for how a host's command ended."""
    if process.error:
        reason = getattr(process, "error_reason", None)
        return "error (%s)" % (_errno_name(reason),) if reason is not None else "error"
    if process.timeouted:
        return "timeout"
    if process.killed and process.exit_code != 0:
        return "killed"
    return "exit %s" % (process.exit_code,)


def _errno_name(reason: object) -> str:
    import errno as errno_mod

    if isinstance(reason, int):
        return errno_mod.errorcode.get(reason, str(reason))
    return str(reason)


def folded_outputs(processes: Iterable[ProcessBase]) -> List[Tuple[List[str], str, str]]:
    """[(hosts, stdout, stderr)]: hosts with the same outputs together, in
    the order of their first host."""
    groups: Dict[Tuple[str, str], List[str]] = {}
    for p in processes:
        groups.setdefault((p.stdout or "", p.stderr or ""), []).append(host_of(p))
    return [(hosts, out, err) for (out, err), hosts in groups.items()]


def by_status(processes: Iterable[ProcessBase]) -> List[Tuple[str, List[str]]]:
    groups: Dict[str, List[str]] = {}
    for p in processes:
        groups.setdefault(status_of(p), []).append(host_of(p))
    return sorted(groups.items(), key=lambda kv: (kv[0] != "exit 0", kv[0]))


def text_output(action: Action, mode: str, out: TextIO, report: bool) -> None:
    processes = list(action.processes)
    for hosts, stdout, stderr in folded_outputs(processes):
        if not stdout and not stderr:
            continue
        title = "%s (%d host%s)" % (fold(hosts), len(hosts), "" if len(hosts) == 1 else "s")
        out.write("---------------- %s\n" % (title,))
        if stdout:
            out.write(stdout if stdout.endswith("\n") else stdout + "\n")
        if stderr:
            out.write("--- stderr\n")
            out.write(stderr if stderr.endswith("\n") else stderr + "\n")
    out.write("================ %s: %d host%s\n" % (mode, len(processes), "" if len(processes) == 1 else "s"))
    for status, hosts in by_status(processes):
        out.write("%s: %s\n" % (status, fold(hosts)))
    if report:
        out.write(Report([action]).to_string(brief=True))  # per-host results are above
        out.write("\n")


def json_output(action: Action, mode: str, words: List[str], out: TextIO) -> None:
    processes = list(action.processes)
    doc = {
        "mode": mode,
        "command": " ".join(words) if mode == "run" and words else None,
        "files": words[:-1] if mode != "run" else None,
        "destination": words[-1] if mode != "run" else None,
        "ok": bool(action.ok),
        "hosts": [
            {
                "host": host_of(p),
                "status": status_of(p),
                "ok": bool(p.ok),
                "exit_code": p.exit_code,
                "error": bool(p.error),
                "error_reason": _errno_name(p.error_reason) if p.error_reason is not None else None,
                "timeouted": bool(p.timeouted),
                "killed": bool(p.killed),
                **_output_fields("stdout", p.stdout),
                **_output_fields("stderr", p.stderr),
            }
            for p in processes
        ],
        "folded": [
            {
                "hosts": fold(hosts),
                "count": len(hosts),
                **_output_fields("stdout", stdout),
                **_output_fields("stderr", stderr),
            }
            for hosts, stdout, stderr in folded_outputs(processes)
        ],
        "by_status": {status: fold(hosts) for status, hosts in by_status(processes)},
        "stats": _jsonable(Report([action]).stats()),
    }
    json.dump(_jsonable(doc), out, indent=2)
    out.write("\n")


def _output_fields(name: str, text: Optional[str]) -> Dict[str, Any]:
    """``{name: text}``, valid Unicode: output that is not UTF-8 (execo
    keeps its bytes as lone surrogates) has them replaced by U+FFFD, and
    its exact bytes are given in ``name + "_base64"`` as well."""
    text = text or ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        return {name: raw.decode("utf-8", "replace"), name + "_base64": base64.b64encode(raw).decode("ascii")}
    return {name: text}


def _valid_text(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {_valid_text(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        return _valid_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _valid_text(str(value))


# ------------------------------------------------------------ main


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``execo`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        ns, mode, words = parse(argv)
        specs = list(ns.hosts)
        for path in ns.hosts_file:
            specs.extend(read_hosts_file(path))
        hosts = expand_hosts(specs)
        if (ns.hosts or ns.hosts_file) and not hosts:
            raise UsageError("the host list is empty")
        if not ns.verbose:
            logger.setLevel(logging.ERROR)
        try:
            if ns.retry_failed is not None:
                retry = build_retry(ns, mode, words)
                if retry is None:
                    sys.stderr.write("execo: nothing to retry: every job of %s finished ok\n" % (ns.retry_failed,))
                    return 0
                action = retry
            else:
                action = build_action(ns, mode, words, hosts)
        except ValueError as e:  # a bad -l/-p value, a {{...}} error with --eval
            raise UsageError(str(e)) from None
        log_path = ns.joblog if ns.joblog is not None else ns.retry_failed
        joblog = None
        if log_path is not None:
            from .joblog import JobLog

            try:
                joblog = JobLog(log_path)
            except OSError as e:
                raise UsageError("cannot write the job log: %s" % (e,)) from None
            joblog.follow(action)
    except UsageError as e:
        sys.stderr.write("execo: %s\n" % (e,))
        return USAGE_ERROR
    try:
        return _run_and_show(ns, mode, words, action)
    finally:
        if joblog is not None:
            joblog.close()


def _run_and_show(ns: argparse.Namespace, mode: str, words: List[str], action: Action) -> int:
    if ns.progress:
        from .progress import ProgressDisplay

        action.lifecycle_handlers.append(ProgressDisplay(action))
    try:
        action.run()
    except KeyboardInterrupt:
        action.kill()
        action.wait()
        sys.stderr.write("execo: interrupted\n")
    try:
        if ns.json:
            json_output(action, mode, words, sys.stdout)
        else:
            text_output(action, mode, sys.stdout, report=not ns.no_report)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (| head): no traceback, no flush error at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    if ns.timeline is not None:
        from .timeline import draw_timeline

        try:
            draw_timeline(action, ns.timeline, title="execo " + " ".join(words) if words else None)
        except OSError as e:
            sys.stderr.write("execo: cannot write the timeline: %s\n" % (e,))
            return 1
    return 0 if action.ok else 1


def main_exit() -> None:
    """Console-script entry point: exits with :func:`main`'s status."""
    sys.exit(main())
