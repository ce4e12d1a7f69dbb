"""``POST /v1/documents`` (upsert by id), ``GET`` and ``DELETE /v1/documents/{doc_id}``."""

from __future__ import annotations

from fastapi import APIRouter

from ..error_handlers import documented_errors
from ..request_models import DocumentsRequest
from ..response_models import DeleteResponse, StoredDocument, UpsertResponse
from .dependencies import ServiceDep

router = APIRouter(responses=documented_errors(401, 404, 422, 500))


@router.post("/v1/documents", summary="Add or replace documents (upsert by id)",
             responses=documented_errors(400, 413, 429))
async def add_documents(body: DocumentsRequest, service: ServiceDep) -> UpsertResponse:
    docs = body.documents
    total = await service.add_documents([d.id for d in docs], [d.text for d in docs], [d.metadata for d in docs])
    return UpsertResponse(upserted=len(docs), count=total)


@router.get("/v1/documents/{doc_id}", summary="One stored document")
async def get_document(doc_id: str, service: ServiceDep) -> StoredDocument:
    doc = await service.get_document(doc_id)
    return StoredDocument(id=doc.id, text=doc.text, metadata=doc.metadata)


@router.delete("/v1/documents/{doc_id}", summary="Delete a document")
async def delete_document(doc_id: str, service: ServiceDep) -> DeleteResponse:
    await service.delete_document(doc_id)
    return DeleteResponse(deleted=doc_id)
