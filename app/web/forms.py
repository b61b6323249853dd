"""Form input checked by the API's own schemas, with errors per field for a page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
FieldErrors = dict[str, str]


def message_of(error: Mapping[str, Any]) -> str:
    """Pydantic's message for one field, without its "Value error, " prefix."""
    message = str(error.get("msg", "Invalid value"))
    return message.removeprefix("Value error, ")


def validate(model: type[ModelT], data: Mapping[str, Any]) -> tuple[ModelT | None, FieldErrors]:
    """The model, or None and the first message for each field that failed."""
    try:
        return model.model_validate(data), {}
    except PydanticValidationError as exc:
        errors: FieldErrors = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else "__all__"
            errors.setdefault(field, message_of(error))
        return None, errors


def blank_to_none(data: Mapping[str, str]) -> dict[str, str | None]:
    """Form fields left empty mean "no value"."""
    return {name: (value if value.strip() else None) for name, value in data.items()}
