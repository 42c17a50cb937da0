"""Simulated file-system faults for tests: a nearly full disk and a read-only folder.

The tests run as root, which ignores permission bits, so a read-only folder cannot be made with chmod; and a
real full disk cannot be made portably. Both are simulated at the points where Python opens and changes files
(builtins.open, io.open, which pathlib uses, and the os calls that create, rename and remove), for paths under
one folder only. Every write attempt is recorded in `attempts`.
"""
from __future__ import annotations

import builtins
import errno
import io
import os


def _size(data) -> int:
    return len(data.encode()) if isinstance(data, str) else memoryview(data).nbytes


class _NearlyFull:
    """A file on a nearly full disk: a write() of more than `room` bytes fails with ENOSPC."""

    def __init__(self, f, room: int):
        self._f, self._room = f, room

    def write(self, data):
        if _size(data) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


class Faults:
    """`kind` "full": under `under`, files opened for writing accept only writes of at most `room` bytes (from
    the first file whose name contains `trigger` on, if given). `kind` "readonly": every write, create, rename or
    removal under `under` fails with EROFS, as on a read-only mount."""

    def __init__(self, monkeypatch, under, kind: str, room: int = 0, trigger: str | None = None):
        self.under, self.kind, self.room, self.trigger = os.path.abspath(under), kind, room, trigger
        self.active = trigger is None
        self.attempts: list[str] = []
        real_open = builtins.open

        def fake_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+") and self._mine(file):
                if self.trigger and self.trigger in os.path.basename(os.fspath(file)):
                    self.active = True
                if self.active:
                    self.attempts.append(os.fspath(file))
                    if self.kind == "readonly":
                        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(file))
                    return _NearlyFull(real_open(file, mode, *args, **kwargs), self.room)
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)
        if kind == "readonly":
            for name in ("mkdir", "replace", "rename", "unlink", "rmdir"):
                monkeypatch.setattr(os, name, self._refuse(getattr(os, name), name))

    def _mine(self, path) -> bool:
        p = os.path.abspath(os.fspath(path))
        return p == self.under or p.startswith(self.under + os.sep)

    def _refuse(self, real, name):
        def call(path, *args, **kwargs):
            if isinstance(path, (str, os.PathLike)) and self._mine(path):
                self.attempts.append(f"{name} {os.fspath(path)}")
                if name == "mkdir" and os.path.exists(path):
                    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path))
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
            return real(path, *args, **kwargs)
        return call
