"""Wire models of custom attributes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from plaudit.core.schemas import AdminIssue, ApiModel, RequestModel

KEY_PATTERN = r"^[a-zA-Z\d_-]+$"
ResourceKey = Annotated[str, Field(min_length=1, max_length=255, pattern=KEY_PATTERN)]
AttributeType = Literal["user", "event"]


class AdminAttribute(ApiModel):
    id: str
    name: str
    key: str
    type: AttributeType


class CreateAttributeRequestItem(RequestModel):
    name: str = Field(min_length=1, max_length=255)
    key: ResourceKey
    type: AttributeType


class UpdateAttributeRequestItem(RequestModel):
    id: str
    name: str | None = Field(None, min_length=1, max_length=255)


class CreateAttributesResponse(ApiModel):
    created: list[AdminAttribute]
    issues: list[AdminIssue]


class UpdateAttributesResponse(ApiModel):
    updated: list[AdminAttribute]
    issues: list[AdminIssue]
