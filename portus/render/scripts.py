"""Small helper scripts an amphora needs next to its configs (pure text, written by the agent).

* ``render_ping_script`` -> ``layout.ping_script``: the PING health monitor, run by HAProxy's
  ``external-check`` as ``<script> <proxy_addr> <proxy_port> <server_addr> <server_port>``.
* ``render_haproxy_check_script`` -> ``layout.haproxy_check_script``: keepalived's
  ``track_script``. It asks HAProxy's runtime socket for ``show info`` instead of ``kill -0``,
  which a zombie would pass (dataplane.md §6).

Both must be executable and owned by root in a directory only root can write (keepalived's
``enable_script_security``).
"""

from __future__ import annotations

import shlex

from portus.ir.model import AmphoraIR


def render_ping_script() -> str:
    return (
        "#!/bin/sh\n"
        "# Portus PING health monitor for HAProxy external-check.\n"
        "# Arguments: <proxy_addr> <proxy_port> <server_addr> <server_port>.\n"
        'exec ping -q -n -c 1 -W 1 "$3" >/dev/null 2>&1\n'
    )


def render_haproxy_check_script(ir: AmphoraIR) -> str:
    socket = shlex.quote("UNIX-CONNECT:" + ir.layout.runtime_socket)
    return (
        "#!/bin/sh\n"
        "# Portus keepalived track_script: succeed only if HAProxy answers its runtime socket.\n"
        f"echo 'show info' | socat -T 1 stdio {socket} 2>/dev/null"
        " | grep -q '^Pid: '\n"
    )
