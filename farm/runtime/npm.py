"""Fetching a package tarball from an npm registry and checking its published integrity (SRI, sha512)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import httpx

from farm.errors import NotFound, UpstreamIntegrityError, UpstreamUnavailable
from farm.store.blobs import BlobWriter


@dataclass(frozen=True)
class NpmTarball:
    name: str
    version: str
    url: str
    integrity: str  # "sha512-<base64>"


def sri_sha512(data_hash: hashlib._Hash) -> str:
    return "sha512-" + base64.b64encode(data_hash.digest()).decode()


class NpmRegistry:
    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.client = httpx.Client(timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self.client.close()

    def tarball(self, name: str, version: str) -> NpmTarball:
        url = f"{self.base_url}{name}/{version}"
        try:
            response = self.client.get(url, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(
                f"{url}: {exc}; check the setting npm_registry and the network"
            ) from exc
        if response.status_code == 404:
            raise NotFound(
                f"the npm registry has no {name}@{version} ({url}); `npm view {name} versions` lists them"
            )
        if response.status_code >= 400:
            raise UpstreamUnavailable(f"{url}: HTTP {response.status_code}")
        try:
            dist = response.json()["dist"]
            return NpmTarball(name, version, dist["tarball"], dist["integrity"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamUnavailable(
                f"{url}: no dist.tarball / dist.integrity in the registry's answer"
            ) from exc

    def download(self, tarball: NpmTarball, writer: BlobWriter) -> None:
        """Stream the tarball into ``writer`` and refuse it unless it matches the published sha512 integrity."""
        algorithm = tarball.integrity.split("-", 1)[0]
        if algorithm != "sha512":
            raise UpstreamIntegrityError(f"{tarball.url}: unsupported integrity {tarball.integrity!r}")
        digest = hashlib.sha512()
        try:
            with self.client.stream("GET", tarball.url) as response:
                if response.status_code >= 400:
                    raise UpstreamUnavailable(f"{tarball.url}: HTTP {response.status_code}")
                for chunk in response.iter_bytes(1 << 20):
                    digest.update(chunk)
                    writer.write(chunk)
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"{tarball.url}: {exc}; retry later") from exc
        got = sri_sha512(digest)
        if got != tarball.integrity:
            raise UpstreamIntegrityError(
                f"{tarball.url}: integrity mismatch: the registry publishes {tarball.integrity}, the download is "
                f"{got}; nothing was installed. Check the registry (setting npm_registry) and any proxy"
            )
