"""Shapes every domain shares: pages and their query parameters, path ids, NUL-free strings."""

from typing import Annotated, Generic, TypeVar

from fastapi import Path, Query
from pydantic import BaseModel

# Primary keys are INTEGER (int4) on PostgreSQL: a larger id in a path is not "not found" but a
# value asyncpg refuses to send (a 500). Bounding the parameter answers 422 before any query.
MAX_ID = 2_147_483_647
ResourceId = Annotated[int, Path(ge=1, le=MAX_ID)]

# PostgreSQL text cannot hold NUL (U+0000): as a `pattern=`, it turns a 500 into a 422.
NO_NUL_PATTERN = r"^[^\x00]*$"

MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
PageOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: subclass it per resource (`class ItemsPage(Page[ItemPublic])`), so the
    OpenAPI schema keeps a readable name."""

    data: list[T]
    limit: int
    offset: int
