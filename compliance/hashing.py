"""One-way tokens that stand in for an erased subject's identifiers.

After an erasure the audit log must still show that something happened to
someone, without saying who, and the suppression list must recognise the
subject if the CRM or a mailbox brings them back. Both use the same token:
`hmac-sha256:<hex>`, HMAC-SHA256 keyed with a random per-store salt, over the
trimmed, lower-cased identifier. The primitive lives in `storage.suppression`
(matching and ingestion need it too, and storage imports nothing of ours);
this module keeps compliance's names for it. Why the salt: see there.
"""

from __future__ import annotations

from storage.suppression import SALT_KEY, TOKEN_PREFIX, SubjectHasher, store_hasher

__all__ = ["SALT_KEY", "TOKEN_PREFIX", "SubjectHasher", "store_hasher"]
