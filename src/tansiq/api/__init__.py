"""The HTTP API: a thin FastAPI layer over :mod:`tansiq.service` (see :func:`create_app`)."""

from tansiq.api.app import create_app

__all__ = ["create_app"]
