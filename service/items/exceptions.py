from service.errors import NotFoundError


class ItemNotFound(NotFoundError):
    """Also what another user's item is: 404, not 403, so ids reveal nothing."""

    def __init__(self) -> None:
        super().__init__("Item not found")
