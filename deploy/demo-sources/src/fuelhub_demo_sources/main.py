"""``fuelhub-demo-sources``: serve both demo upstreams on one port."""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .settings import DemoSettings

log = logging.getLogger("fuelhub_demo_sources")


def load_settings() -> DemoSettings:
    """Settings from the environment, or exit with one clear line per bad value."""
    try:
        return DemoSettings()
    except ValidationError as exc:
        lines = ["fuelhub-demo-sources: invalid configuration:"]
        for error in exc.errors():
            name = "DEMO_" + ".".join(str(p) for p in error["loc"]).upper()
            lines.append(f"  {name}: {error['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    # Building 100,000 stations takes a while; say why the port is not open yet.
    log.info("building %d stations (seed %d)", max(4, settings.stations), settings.seed)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
