"""Page-number pagination: ?page= (1 or more) and ?page_size= (1 to rules.PAGE_SIZE_MAX).

A page or page_size that is not a whole number in range is a 400 naming it (DRF would silently use the
default page size, and answer 404 for page=abc); a page past the last one is a 404 "Invalid page.".
"""

from __future__ import annotations

import re
from typing import Any

from django.core.paginator import Paginator
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from predictions import rules

_WHOLE_NUMBER = re.compile("[0-9]+")
# Beyond any page count or size; also keeps int() below Python's 4,300-digit limit (a ValueError, a 500).
_HUGE = 10**18


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = rules.PAGE_SIZE_MAX

    def get_page_size(self, request: Request) -> int:
        size = _whole_number(request, self.page_size_query_param, rules.PAGE_SIZE_MESSAGE)
        if size is None:
            return self.page_size
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError({self.page_size_query_param: [rules.PAGE_SIZE_MESSAGE]})
        return size

    def get_page_number(self, request: Request, paginator: Paginator) -> int:
        number = _whole_number(request, self.page_query_param, rules.PAGE_MESSAGE)
        if number is None:
            return 1
        if number < 1:
            raise exceptions.ValidationError({self.page_query_param: [rules.PAGE_MESSAGE]})
        return number

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "The page, from 1; a page past the last one answers 404.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {self.max_page_size}; default {self.page_size}.",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


def _whole_number(request: Request, name: str, message: str) -> int | None:
    """The parameter as an int, None when absent; anything but digits (even empty) is a 400."""
    if name not in request.query_params:
        return None
    text = request.query_params[name]
    if not _WHOLE_NUMBER.fullmatch(text):
        raise exceptions.ValidationError({name: [message]})
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= len(str(_HUGE)) else _HUGE
