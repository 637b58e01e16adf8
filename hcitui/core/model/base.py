"""Shared machinery of the domain types: open PowerShell enums, PascalCase aliases, collapsed arrays and
PowerShell's dates."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_pascal


class PSEnum(str, enum.Enum):
    """A PowerShell enum: compares and prints as its string value."""

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


E = TypeVar("E", bound=PSEnum)


def _coerce_enum(enum_cls: type[PSEnum]):
    by_lower = {m.value.lower(): m for m in enum_cls}

    def coerce(value: Any) -> Any:
        if value is None or isinstance(value, enum_cls):
            return value
        if isinstance(value, dict) and "Value" in value:  # ConvertTo-Json of an un-cast enum
            value = value.get("String") or value["Value"]
        text = str(value)
        return by_lower.get(text.lower(), text)

    return coerce


def open_enum(enum_cls: type[E]) -> Any:
    """Annotated type: the enum member when known, the raw string otherwise."""
    return Annotated[
        enum_cls | str,
        BeforeValidator(_coerce_enum(enum_cls)),
        PlainSerializer(lambda v: str(v.value if isinstance(v, PSEnum) else v), return_type=str),
    ]


def _as_list(value: Any) -> Any:
    """PowerShell's ConvertTo-Json collapses one-element arrays; accept a scalar too."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and "," in value:
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]


def _as_list_keep_commas(value: Any) -> Any:
    """Like ``_as_list`` for lines of text: one line with commas in it stays one line."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _ps_datetime(value: Any) -> Any:
    """Accept ISO-8601 and Windows PowerShell 5.1's ``/Date(1700000000000)/``."""
    if isinstance(value, str) and value.startswith("/Date(") and value.endswith(")/"):
        millis = int(value[6:-2].split("+")[0].split("-")[0] or 0)

        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    if value == "":
        return None
    return value


PSDateTime = Annotated[datetime | None, BeforeValidator(_ps_datetime)]


class PSModel(BaseModel):
    """Base for objects read from PowerShell."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        extra="ignore",
        frozen=False,
    )
