"""The one exception media inspection raises for bad input."""


class MediaRejected(Exception):
    """Refuse a piece of evidence media with a stable machine code.

    ``code`` is what the phone app branches on (``media.type_forbidden``,
    ``photo.too_many_pixels``...), ``field`` names the request field at fault and
    ``message`` is a sentence for people. The API layer turns it into a 4xx.
    """

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.field = field
        self.message = message
