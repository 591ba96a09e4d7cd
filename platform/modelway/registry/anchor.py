"""The audit chain's anchor outside ``registry.db``: an HMAC key file and a head witness file.

The hash chain in ``registry.db`` shows an edited or deleted entry, but whoever can write the
database can also recompute every later hash and the stored head. The anchor closes that:

* every new audit entry carries ``mac = HMAC-SHA256(key, "seq:hash")``; the key lives in
  ``$MODELWAY_AUDIT_KEY_FILE`` (default ``<home>/keys/audit.key``), created 0600 (folder
  0700) on the first audit event. Rewriting the chain needs the key;
* the head (seq, hash, mac) is also written to ``<home>/registry/audit-head.json`` in the
  transaction that appends, so dropping the newest entries shows as a head the log no longer has.

What it does not protect against: anyone who can read the key (the same account, root on the
machine) can re-sign a rewritten chain, and restoring the database, key and witness together
from an old backup rolls history back consistently. Keep the key elsewhere
(``MODELWAY_AUDIT_KEY_FILE`` on a secrets mount, another account) to raise that bar.

Example:
    >>> import tempfile
    >>> anchor = AuditAnchor.for_home(Path(tempfile.mkdtemp()))
    >>> key = anchor.create_key()
    >>> len(sign(key, 1, "ab" * 32))
    64
"""
from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelway.files import atomic_write_text
from modelway.registry.base import RegistryError

KEY_ENV = "MODELWAY_AUDIT_KEY_FILE"


def sign(key: bytes, seq: int, digest: str) -> str:
    """The MAC of the audit entry ``seq`` whose chain hash is ``digest``."""
    return hmac.new(key, f"{seq}:{digest}".encode(), "sha256").hexdigest()


def signature_ok(key: bytes, seq: int, digest: str, mac: str | None) -> bool:
    """Whether ``mac`` is the entry's MAC (constant-time comparison)."""
    return mac is not None and hmac.compare_digest(sign(key, seq, digest), mac)


@dataclass(frozen=True)
class AuditAnchor:
    """Where a home's audit key and head witness live."""

    key_file: Path
    witness_file: Path

    @classmethod
    def for_home(cls, home: Path) -> AuditAnchor:
        explicit = os.environ.get(KEY_ENV)
        key_file = Path(explicit).expanduser() if explicit else home / "keys" / "audit.key"
        return cls(key_file=key_file, witness_file=home / "registry" / "audit-head.json")

    def key(self) -> bytes | None:
        """The key, or None when there is no key file yet."""
        try:
            text = self.key_file.read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RegistryError(f"cannot read the audit key {self.key_file} ({exc.strerror})") from None
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            raise RegistryError(f"the audit key {self.key_file} is not a 64-hex-digit key; restore it from a backup")
        return bytes.fromhex(text)

    def create_key(self) -> bytes:
        """Create the key file (0600, in a 0700 folder); an existing key is returned unchanged."""
        self.key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            found = self.key()
            assert found is not None
            return found
        try:
            os.write(fd, key.hex().encode() + b"\n")
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            self.key_file.unlink(missing_ok=True)
            raise
        os.close(fd)
        return key

    def witness(self) -> dict[str, Any] | None:
        """The last head written outside the database: ``{"seq", "hash", "mac"}``, or None."""
        try:
            doc = json.loads(self.witness_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"seq": None, "hash": None, "mac": None}
        return doc if isinstance(doc, dict) else {"seq": None, "hash": None, "mac": None}

    def write_witness(self, seq: int, digest: str, mac: str) -> None:
        atomic_write_text(self.witness_file, json.dumps({"seq": seq, "hash": digest, "mac": mac}) + "\n")

    def restore_witness(self, previous: dict[str, Any] | None) -> None:
        """Put back the witness as it was before a transaction that rolled back."""
        if previous is None:
            self.witness_file.unlink(missing_ok=True)
        elif previous.get("seq") is not None:
            self.write_witness(previous["seq"], previous["hash"], previous["mac"])
