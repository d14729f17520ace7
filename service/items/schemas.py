from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from service.schemas import NO_NUL_PATTERN, Page

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)]
Description = Annotated[str, Field(max_length=2000, pattern=NO_NUL_PATTERN)]
CENT = Decimal("0.01")
# NUMERIC(12,2): at most 10 digits before the point. Serialised as a string so no float rounding;
# held at two places ("1.5" -> "1.50"), as the database stores it, so a write answers what a read
# of the same item will.
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False),
    AfterValidator(lambda price: price.quantize(CENT)),
]
Quantity = Annotated[int, Field(ge=0, le=2_147_483_647)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    price: Price
    quantity: Quantity = 0


class ItemUpdate(BaseModel):
    """Every field optional; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    price: Price | None = None
    quantity: Quantity | None = None
    archived: bool | None = None

    @field_validator("name", "price", "quantity", "archived")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class ItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    name: str
    description: str | None
    price: Decimal
    quantity: int
    archived: bool
    created_at: datetime
    updated_at: datetime


class ItemsPage(Page[ItemPublic]):
    pass
