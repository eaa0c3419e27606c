"""Skill versions: the digest of a skill's normalized content.

Normalization makes the digest depend on what the skill says, not on how it was packed: text
files lose a BOM and CRLF line endings, paths are sorted, the archive's timestamps and
compression do not enter. The same content dropped twice — as a SKILL.md, a zip, from Windows
or from a Mac — is one version.
"""

from __future__ import annotations

import hashlib

from .document import Bundle, as_text


def normalized(path: str, data: bytes) -> bytes:
    """Text files (UTF-8, no NUL, whatever their name) without BOM and CRLF; others as they are."""
    text = as_text(data)
    return data if text is None else text.encode("utf-8")


def version_digest(bundle: Bundle) -> str:
    digest = hashlib.sha256(b"agent-skill-bundle/v1\n")
    for path in sorted(bundle.files):
        content = normalized(path, bundle.files[path])
        encoded = path.encode()
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
