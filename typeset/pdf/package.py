"""The printer's package: the PDFs, the preflight reports and SHA-256 checksums of them all, zipped."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile

PACKAGE = "package.zip"
ZIP_EPOCH = 315532800  # 1980-01-01, the earliest time a zip entry can carry


def package_zip(result) -> bytes:
    """The zip of a build (`report.BuildResult`). Entries carry the SOURCE_DATE_EPOCH time (or
    1980-01-01), so the same build zips the same."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", str(ZIP_EPOCH)))
    stamp = time.gmtime(max(epoch, ZIP_EPOCH))[:6]
    members = {path: result.files[path] for path in result.outputs.values()}
    members["preflight.json"] = (json.dumps(result.report.preflight or {}, ensure_ascii=False, indent=2)
                                 + "\n").encode()
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in members.items())
    members["SHA256SUMS"] = sums.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
