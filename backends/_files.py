"""Small file helpers shared by backends (which must not depend on harness infrastructure;
harness.store.run_dir re-exports write_atomic so the project has one atomic writer)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(path: Path | str, data: bytes | str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target:
    a crash leaves either the old file or the new one, never half of one. The temporary
    name is unique (pid + random), so two writers never share it; it is opened normally
    (not mkstemp) so the umask applies, as for any other file."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
