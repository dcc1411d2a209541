"""Publish the API's OpenAPI schema: ``python -m doorward.server.api.openapi`` writes docs/openapi.json.

Owns ``schema()``, which builds a throwaway app (temporary database and keys) only to ask
FastAPI for its schema; a test checks that docs/openapi.json is current.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from doorward.server.api.app import create_app
from doorward.server.clock import ManualClock
from doorward.server.config import ServerConfig
from doorward.server.store.keys import create_keys

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"  # the source tree


def schema() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        config = ServerConfig(database=Path(scratch) / "schema.db", keys_dir=Path(scratch) / "keys")
        keys = create_keys(config.signing_key_path, config.data_key_path)
        app = create_app(config, ManualClock(), keys, background=False)
        try:
            return app.openapi()
        finally:
            app.state.ctx.db.close()


def render() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else DOCS_PATH
    target.write_text(render())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
