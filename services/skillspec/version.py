"""Skill versions: the digest of a skill's normalized content.

Normalization makes the digest depend on what the skill says, not on how it was packed: text
files lose a BOM and CRLF line endings, paths are sorted, the archive's timestamps and
compression do not enter. The same content dropped twice — as a SKILL.md, a zip, from Windows
or from a Mac — is one version.
"""

from __future__ import annotations

import hashlib

from .document import Bundle

TEXT_SUFFIXES = (".md", ".txt", ".json", ".yaml", ".yml", ".py", ".sh", ".js", ".ts", ".toml", ".csv")


def normalized(path: str, data: bytes) -> bytes:
    if path.lower().endswith(TEXT_SUFFIXES) and b"\x00" not in data:
        data = data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")
    return data


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
