"""Integration tests: several parts together in one test process, with real sockets, ptys, SQLite files, an in-thread server or the hub process."""
