"""The wired-up domain: built once from the settings, shared by the CLI commands and the web app."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from farm import site
from farm.auth.tokens import TokenService
from farm.build.image import BuilderStore
from farm.build.state import BuildStates
from farm.dist.archive import ArchiveLimits
from farm.index.pages import PageTree, Publisher
from farm.runtime.distribution import RuntimeStore
from farm.runtime.publish import LockPublisher
from farm.runtime.target import targets_for
from farm.settings import Settings
from farm.store.blobs import BlobStore
from farm.store.catalog import Catalog
from farm.store.database import make_engine, migrate
from farm.store.ingest import Ingestor
from farm.verify.snapshot import SnapshotCache


@dataclass
class Farm:
    settings: Settings
    engine: Engine
    blobs: BlobStore
    catalog: Catalog
    ingestor: Ingestor
    publisher: Publisher
    tokens: TokenService
    runtimes: RuntimeStore
    locks: LockPublisher
    builders: BuilderStore
    builds: BuildStates
    snapshots: SnapshotCache

    @classmethod
    def open(cls, settings: Settings, *, migrate_schema: bool = True) -> Farm:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        if migrate_schema:
            migrate(engine)
        blobs = BlobStore(settings.blob_dir)
        catalog = Catalog(engine)
        limits = ArchiveLimits(
            max_entries=settings.max_archive_entries,
            max_uncompressed_bytes=settings.max_uncompressed_bytes,
            max_compression_ratio=settings.max_compression_ratio,
            max_metadata_bytes=settings.max_metadata_bytes,
            max_seconds=settings.max_archive_seconds,
        )
        own = site.Site(settings.resolved_public_url, tuple(settings.runtimes))
        shown = site.published(settings.data_dir, own)  # the data directory's, whatever this process was told
        pages = PageTree(settings.www_dir, shown.public_url, targets_for(list(shown.runtimes)))
        publisher = Publisher(
            catalog,
            pages,
            shared_quiet=settings.shared_pages_quiet,
            shared_max_delay=settings.shared_pages_max_delay,
        )
        runtimes = RuntimeStore(settings.www_dir, settings.runtime_dir, blobs)
        locks = LockPublisher(
            runtimes, catalog, blobs, pages.render_lock, settings.lock_precedence, settings.runtime_lock
        )
        publisher.on_change.append(locks.refresh)
        return cls(
            settings=settings,
            engine=engine,
            blobs=blobs,
            catalog=catalog,
            ingestor=Ingestor(catalog, blobs, limits),
            publisher=publisher,
            tokens=TokenService(engine),
            runtimes=runtimes,
            locks=locks,
            builders=BuilderStore(settings.resolved_builder_dir),
            builds=BuildStates(engine, settings.build_lease_seconds),
            snapshots=SnapshotCache(settings.snapshot_dir),
        )

    def close(self) -> None:
        self.publisher.close()
        self.engine.dispose()
