"""The simulator's catalogue routes: files (upload, list, retrieve, content, delete), models
(list, retrieve) and a job's checkpoints, so that a client written for OpenAI can look around
as it would there. A mixin of SimApp (app.py), which owns the records these read."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from aiohttp import web

from backends.base import SUCCEEDED, Backend, Job
from backends.simulator.bodies import checkpoints, not_found
from backends.simulator.wire import ApiError, json_response, page

OWNER = "simulator"


class CatalogRoutes:
    backend: Backend
    files: dict[str, dict[str, Any]]
    contents: dict[str, str]  # file id -> its bytes, base64 (kept so /content can serve them)
    jobs: dict[str, dict[str, Any]]
    stats: dict[str, int]
    _tick: Callable[[], int]
    _save: Callable[[], None]
    _find: Callable[[str], Job]

    def add_catalog_routes(self, r: web.UrlDispatcher) -> None:
        r.add_post("/v1/files", self.upload)
        r.add_get("/v1/files", self.list_files)
        r.add_get("/v1/files/{id}", self.get_file)
        r.add_get("/v1/files/{id}/content", self.file_content)
        r.add_delete("/v1/files/{id}", self.delete_file)
        r.add_get("/v1/models", self.list_models)
        r.add_get("/v1/models/{id}", self.get_model)
        r.add_get("/v1/fine_tuning/jobs/{id}/checkpoints", self.list_checkpoints)

    # -- files ------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise ApiError(400, "Expected a multipart/form-data body with `file` and `purpose`.")
        try:
            form = await request.post()
        except web.HTTPException:
            raise
        except Exception as e:  # aiohttp raises ValueError, AssertionError or its own parse errors here
            raise ApiError(400, f"Could not parse the multipart/form-data body ({type(e).__name__}).") from None
        purpose, upload = form.get("purpose"), form.get("file")
        if not isinstance(upload, web.FileField):
            raise ApiError(400, "Missing required parameter: 'file'.", param="file")
        if purpose != "fine-tune":
            raise ApiError(400, f"Invalid purpose {purpose!r}: the simulator accepts 'fine-tune'.", param="purpose")
        data = upload.file.read()
        ref = self.backend.upload_training_file(data, upload.filename or "file.jsonl")
        self.files[ref.id] = {
            "id": ref.id,
            "object": "file",
            "bytes": ref.bytes,
            "created_at": self._tick(),
            "filename": ref.filename,
            "purpose": "fine-tune",
            "status": "processed",  # recorded (2024+): processed already in the upload's answer
            "status_details": None,
            "expires_at": None,
        }
        self.contents[ref.id] = base64.b64encode(data).decode()
        self.stats["uploads"] += 1
        self._save()
        return json_response(self.files[ref.id])

    async def list_files(self, request: web.Request) -> web.Response:
        """ListFilesResponse, newest first; `purpose` filters as OpenAI's does."""
        purpose = request.query.get("purpose")
        files = [f for f in reversed(list(self.files.values())) if purpose in (None, f["purpose"])]
        return _list_response(files, more=False)

    def _file(self, request: web.Request) -> str:
        file_id = request.match_info["id"]
        if file_id not in self.files:
            raise ApiError(404, f"No such File object: {file_id[:200]}", param="id")
        return file_id

    async def get_file(self, request: web.Request) -> web.Response:
        return json_response(self.files[self._file(request)])

    async def file_content(self, request: web.Request) -> web.Response:
        file_id = self._file(request)
        if file_id not in self.contents:  # uploaded by a simulator older than this route
            raise ApiError(404, f"The content of {file_id} was not kept by this simulator.", param="id")
        return web.Response(body=base64.b64decode(self.contents[file_id]), content_type="application/octet-stream")

    async def delete_file(self, request: web.Request) -> web.Response:
        file_id = self._file(request)
        del self.files[file_id]
        self.contents.pop(file_id, None)
        self._save()
        return json_response({"id": file_id, "object": "file", "deleted": True})

    # -- models -----------------------------------------------------------------------------

    def _models(self) -> dict[str, dict[str, Any]]:
        from harness.domain import pricing  # pure data: the base models the price table knows

        models = {name: {"id": name, "object": "model", "created": 0, "owned_by": "system"} for name in pricing.PRICES}
        for job in self.backend.find_jobs({}):
            model = self._trained_model(job)
            if model is not None:
                created = self.jobs[job.id]["finished_at"] or self.jobs[job.id]["created_at"]
                models[model] = {"id": model, "object": "model", "created": created, "owned_by": OWNER}
        return models

    def _trained_model(self, job: Job) -> str | None:
        """The model a job of this simulator made, if it succeeded (and no fault failed it)."""
        rec = self.jobs.get(job.id)
        ok = rec is not None and job.status == SUCCEEDED and not rec["failed"]
        return job.fine_tuned_model if ok else None

    async def list_models(self, request: web.Request) -> web.Response:
        return json_response({"object": "list", "data": list(self._models().values())})

    async def get_model(self, request: web.Request) -> web.Response:
        model = request.match_info["id"]
        found = self._models().get(model)
        if found is None:
            raise ApiError(
                404,
                f"The model '{model[:200]}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return json_response(found)

    # -- checkpoints ------------------------------------------------------------------------

    async def list_checkpoints(self, request: web.Request) -> web.Response:
        """A succeeded job's checkpoints, newest first (backends/simulator/bodies.py)."""
        job_id = request.match_info["id"]
        if job_id not in self.jobs:
            raise not_found(job_id)
        job = self._find(job_id)
        model = self._trained_model(job)
        items = checkpoints(job, self.jobs[job_id], self.backend.list_events(job_id), model) if model else []
        data, more = page(items, request.query)
        return _list_response(data, more)


def _list_response(items: list[dict[str, Any]], more: bool) -> web.Response:
    """OpenAI's list shape for files and checkpoints (with the first and last ids)."""
    return json_response(
        {
            "object": "list",
            "data": items,
            "has_more": more,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
        }
    )
