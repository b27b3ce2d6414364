"""The twine-compatible upload endpoint (the legacy PyPI upload API, ``POST /legacy/``)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from packaging.utils import canonicalize_name
from packaging.version import Version
from starlette.datastructures import FormData, UploadFile

from farm.audit.trail import Action, Actor, AuditTrail
from farm.auth.tokens import TokenInfo
from farm.context import Farm
from farm.dist.filename import DistFilename, parse_dist_filename
from farm.errors import InvalidDistribution
from farm.index.simple_index import file_path
from farm.store.blobs import CHUNK
from farm.store.ingest import IngestResult
from farm.store.models import Origin, TokenScope
from index_server.auth import token_from_authorization


def upload_router(farm: Farm) -> APIRouter:
    router = APIRouter()
    trail = AuditTrail(farm.engine)

    @router.post("/legacy/", summary="Upload a distribution (twine / the legacy PyPI upload API)")
    @router.post("/legacy", include_in_schema=False)
    async def upload(request: Request) -> JSONResponse:
        token = token_from_authorization(request.headers.get("authorization"))
        info = await run_in_threadpool(farm.tokens.verify, token, TokenScope.UPLOAD)
        actor = Actor.for_token(info, request.client.host if request.client else None)
        async with request.form(max_files=1, max_fields=200) as form:
            return await _handle(farm, form, info, trail, actor)

    return router


async def _handle(
    farm: Farm, form: FormData, token: TokenInfo, trail: AuditTrail, actor: Actor
) -> JSONResponse:
    """Validate the form against the file's name, then store, publish and render."""
    action = form.get(":action")
    if action not in (None, "file_upload"):
        raise InvalidDistribution(f"unsupported :action {action!r}; only 'file_upload' is implemented")
    content = form.get("content")
    if not isinstance(content, UploadFile) or not content.filename:
        raise InvalidDistribution("the form has no file in its 'content' field; upload with twine")
    dist = parse_dist_filename(content.filename)
    token.check_project(dist.name)
    _check_form_fields(form.get("name"), form.get("version"), dist)
    result = await run_in_threadpool(_store, farm, content, dist, form.get("sha256_digest"))
    if result.created:
        row = result.row
        await run_in_threadpool(
            trail.record, Action.UPLOAD, row.filename, actor, sha256=row.sha256, size=row.size
        )
        # On its project page (what installers read) before the response; on the root listings and the runtimes'
        # locks within settings.shared_pages_quiet .. shared_pages_max_delay, in a render shared with other uploads.
        await run_in_threadpool(partial(farm.publisher.refresh, wait_shared=False), [dist.name])
    return JSONResponse(
        {
            "status": "created" if result.created else "exists",
            "filename": result.row.filename,
            "sha256": result.row.sha256,
            "url": farm.settings.resolved_public_url + file_path(result.row.sha256, result.row.filename),
        }
    )


def _store(farm: Farm, content: UploadFile, dist: DistFilename, claimed: object) -> IngestResult:
    with farm.blobs.writer(farm.settings.max_upload_bytes) as writer:
        content.file.seek(0)
        while chunk := content.file.read(CHUNK):
            writer.write(chunk)
        writer.finish()
        if isinstance(claimed, str) and claimed and writer.sha256 != claimed.lower():
            raise InvalidDistribution(
                f"{dist.filename}: the form's sha256_digest {claimed} does not match the uploaded content "
                f"({writer.sha256}); the upload was corrupted in transit, try again"
            )
        return farm.ingestor.ingest(writer, dist.filename, Origin.UPLOADED.value)


def _check_form_fields(name: object, version: object, dist: DistFilename) -> None:
    """The form's name and version (twine sets them from METADATA) must agree with the filename."""
    if isinstance(name, str) and name and canonicalize_name(name) != dist.name:
        raise InvalidDistribution(
            f"the form says name={name!r}, but the file {dist.filename!r} is for {dist.name!r}"
        )
    if isinstance(version, str) and version:
        try:
            same = Version(version) == dist.version
        except ValueError:  # InvalidVersion, or a number beyond int()'s 4,300 digits
            same = False
        if not same:
            raise InvalidDistribution(
                f"the form says version={version!r}, but the file {dist.filename!r} is version {dist.version}"
            )
