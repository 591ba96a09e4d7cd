"""Waivers: reviewed, expiring exceptions to a policy for resources matching a URN glob.

A waivers file is YAML, a list (or ``waivers:`` list) of entries::

    - policy: s3-access-logging
      urn: "urn:pulumi:prod::modelway::*::modelway-access-logs*"
      reason: the access-log bucket cannot log into itself
      approver: jane.doe@example.com
      expires: 2027-06-30

Every field is required. A waiver without reason or approver is rejected (ConfigError, exit 2);
an expired one no longer applies, so its violations count again (and a warning says so).

Example:
    >>> w = Waiver("s3-access-logging", "urn:*logs*", "log bucket", "jane", datetime.date(2099, 1, 1))
    >>> w.covers("s3-access-logging", "urn:pulumi:prod::p::aws:s3/bucket:Bucket::logs")
    True
"""
from __future__ import annotations

import datetime
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from modelway.errors import ConfigError
from modelway.rendering.strict_yaml import load_yaml_text

REQUIRED = ("policy", "urn", "reason", "approver", "expires")


@dataclass(frozen=True)
class Waiver:
    """One reviewed exception."""

    policy: str
    urn: str
    reason: str
    approver: str
    expires: datetime.date

    def covers(self, policy: str, urn: str) -> bool:
        return policy == self.policy and fnmatch.fnmatchcase(urn, self.urn)

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires


def load_waivers(path: Path, known_policies: Iterable[str] | None) -> list[Waiver]:
    """Parse and validate a waivers file; ConfigError (one line: file, entry, problem) on any defect.

    ``known_policies=None`` skips the policy-name check (a quick structural check before the
    pack is imported).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the waivers file ({exc.strerror})") from None
    # Strict: a duplicate key is an error, and `expires` stays text until _waiver parses it,
    # so a bad date names its entry instead of failing inside the YAML loader.
    document = load_yaml_text(text, path)
    if isinstance(document, dict):
        if set(document) != {"waivers"}:
            # Without this a file holding one waiver (no "- ") was read as no waivers at all.
            raise ConfigError(f"{path}: expected a list of waivers (or `waivers:` with a list); this is a single "
                              f"mapping (keys {', '.join(sorted(map(str, document)))}): put '- ' before its first "
                              "key to make it a list entry")
        document = document["waivers"]
    if document is None:
        return []
    if not isinstance(document, list):
        raise ConfigError(f"{path}: expected a list of waivers (policy, urn, reason, approver, expires)")
    known = set(known_policies) if known_policies is not None else None
    return [_waiver(entry, i, path, known) for i, entry in enumerate(document, start=1)]


def _waiver(entry: Any, index: int, path: Path, known: set[str] | None) -> Waiver:
    where = f"{path}: waiver {index}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(REQUIRED)}")
    missing = [key for key in REQUIRED if not str(entry.get(key) or "").strip()]
    if missing:
        raise ConfigError(f"{where} ({entry.get('policy', '?')}): missing {', '.join(missing)}; "
                          "every waiver needs a reason, an approver and an expiry date")
    unknown = sorted(set(entry) - set(REQUIRED))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)} (fields: {', '.join(REQUIRED)})")
    if known is not None and entry["policy"] not in known:
        raise ConfigError(f"{where}: unknown policy {entry['policy']!r}")
    expires = entry["expires"]
    if isinstance(expires, datetime.datetime):
        expires = expires.date()
    if not isinstance(expires, datetime.date):
        try:
            expires = datetime.date.fromisoformat(str(expires))
        except ValueError:
            raise ConfigError(f"{where}: expires must be a date YYYY-MM-DD, got {expires!r}") from None
    return Waiver(str(entry["policy"]), str(entry["urn"]), str(entry["reason"]).strip(),
                  str(entry["approver"]).strip(), expires)
