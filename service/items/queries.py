"""The hot reads' statements, in SQLAlchemy Core, compiled once by service/db_reads.py.

Each also checks that the token's user still exists and is active, in the same round trip: no
separate user lookup per request.
"""

from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select, true

from service.items.models import Item
from service.users.models import User

LIKE_ESCAPE = "/"
ITEM_COLUMNS = tuple(Item.__table__.c)
_ACTIVE_VIEWER = and_(User.id == bindparam("viewer_id"), User.is_active)

# One row when the viewer is active: the item's columns, NULL when there is no such item or it
# is another user's and the viewer is not an admin (so both answer 404 alike).
READABLE_ITEM = (
    select(User.is_admin.label("viewer_is_admin"), *ITEM_COLUMNS)
    .select_from(User)
    .outerjoin(
        Item,
        and_(Item.id == bindparam("item_id"), or_(Item.owner_id == User.id, User.is_admin)),
    )
    .where(_ACTIVE_VIEWER)
)


def _page(*, everyone: bool, filtered: bool) -> Select[Any]:
    query = (
        select(*ITEM_COLUMNS)
        .order_by(Item.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    if not everyone:
        query = query.where(Item.owner_id == bindparam("viewer_id"))
    if filtered:
        query = query.where(Item.name.ilike(bindparam("pattern"), escape=LIKE_ESCAPE))
    return query


def _own_page_with_viewer(*, filtered: bool) -> Select[Any]:
    """No row: no active viewer. Otherwise the viewer's admin flag on every row, with a page of
    their own items (one row of NULL item columns when the page is empty)."""
    page = _page(everyone=False, filtered=filtered).subquery("page")
    return (
        select(User.is_admin.label("viewer_is_admin"), *page.c)
        .select_from(User)
        .outerjoin(page, true())
        .where(_ACTIVE_VIEWER)
        .order_by(page.c.id)
    )


# A statement per shape rather than `owner_id = :viewer OR :is_admin`, which would keep the
# planner from using the owner index once asyncpg's prepared statement goes generic.
# Keyed by "filtered by name".
OWN_PAGE_WITH_VIEWER = {flag: _own_page_with_viewer(filtered=flag) for flag in (False, True)}
EVERYONES_PAGE = {flag: _page(everyone=True, filtered=flag) for flag in (False, True)}


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere; its %, _ and escape characters match literally."""
    for special in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, LIKE_ESCAPE + special)
    return f"%{text}%"
