"""One module per ``doorward`` subcommand of the door (``run``, ``pair``, ``status``,
``events``, ``migrate``, ``bind-module``, ``relay-safe``, ``check-config``, ``doctor``).

Loaded lazily by ``doorward.daemon.cli``; nothing else imports them.
"""
