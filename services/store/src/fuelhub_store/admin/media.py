"""Processed icons on disk under content-addressed names, and the route that serves them."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from fuelhub_store.admin.icons import SIZES, ProcessedIcon

MEDIA_PREFIX: Final = "/media"
ICON_NAME: Final = re.compile(r"^[0-9a-f]{64}-(?:" + "|".join(str(s) for s in SIZES) + r")\.png$")
# Names are content hashes: a file never changes, so clients may keep it for a year.
IMMUTABLE: Final = "public, max-age=31536000, immutable"


class MediaStore:
    """Writes icon renditions as ``<root>/icons/<sha256>-<size>.png`` (atomically)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.icons = root / "icons"

    def save_icon(self, icon: ProcessedIcon) -> str:
        """Store every rendition; return the root-relative URL path of the largest."""
        self.icons.mkdir(parents=True, exist_ok=True)
        for size, data in icon.renditions.items():
            target = self.icons / f"{icon.digest}-{size}.png"
            if target.exists():
                continue  # same name, same bytes
            fd, tmp = tempfile.mkstemp(dir=self.icons, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return f"{MEDIA_PREFIX}/icons/{icon.digest}-{max(SIZES)}.png"

    def icon_file(self, name: str) -> Path | None:
        if not ICON_NAME.fullmatch(name):
            return None
        path = self.icons / name
        return path if path.is_file() else None


def media_routes(store: MediaStore) -> list[Route]:
    async def icon(request: Request) -> Response:
        path = store.icon_file(request.path_params["name"])
        if path is None:
            return PlainTextResponse("Not found", status_code=404)
        return FileResponse(
            path,
            media_type="image/png",
            headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"},
        )

    return [Route(MEDIA_PREFIX + "/icons/{name}", icon, methods=["GET", "HEAD"])]
