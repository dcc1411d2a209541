"""Unit tests: pure logic and single edges in memory or on a scratch file; no process, no server. `pytest tests/unit` runs in seconds."""
