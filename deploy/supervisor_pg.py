"""Start (or find) the embedded PostgreSQL of a data directory, then exit: ``python -m deploy.supervisor_pg``.

It runs as its own short-lived process in its own session so that the postmaster that
``pg_ctl`` leaves behind is not in the terminal's process group: a Ctrl-C reaches only the
supervisor, which stops PostgreSQL last, after the services that use it.
"""
from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    pg_dir, out_file = Path(argv[0]), Path(argv[1])
    import pgserver

    server = pgserver.get_server(pg_dir, cleanup_mode=None)
    info = {"pid": server.get_pid(), "uri": server.get_uri()}
    from deploy.supervisor_files import write_json

    write_json(out_file, info)
    print(f"postgres running, postmaster pid {info['pid']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
