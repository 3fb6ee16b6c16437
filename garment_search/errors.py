"""Errors that reach a client: each carries its HTTP status and a plain sentence, never a traceback."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: ``status`` is the HTTP status, ``str(error)`` the sentence sent as ``{"error": ...}``."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    status = 400


class MethodNotAllowed(ServiceError):
    status = 405


class PayloadTooLarge(ServiceError):
    status = 413


class UnsupportedImage(ServiceError):
    status = 415


class OriginError(ServiceError):
    status = 502


class Unavailable(ServiceError):
    status = 503


class OriginTimeout(ServiceError):
    status = 504
