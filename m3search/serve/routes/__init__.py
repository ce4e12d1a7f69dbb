"""The app's routers, one module per job: encoding, rerank, search, documents, operations, the page.

>>> [route.path for route in ROUTERS[0].routes]
['/v1/embeddings', '/v1/encode']
"""

from __future__ import annotations

from .document_routes import router as documents
from .embedding_routes import router as embeddings
from .ops_routes import router as ops
from .page_routes import router as page
from .rerank_routes import router as rerank
from .search_routes import router as search

#: In the order the OpenAPI schema lists them.
ROUTERS = (embeddings, rerank, search, documents, ops, page)
