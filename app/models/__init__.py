"""The models. Importing this package imports every module in it, so `Base.metadata`
knows every table (for Alembic and `create_all`) without a list kept by hand, and
each model is also importable from here (`from app.models import Item`)."""

import importlib
import pkgutil

from app.db.base import Base

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = sorted(mapper.class_.__name__ for mapper in Base.registry.mappers)
globals().update({mapper.class_.__name__: mapper.class_ for mapper in Base.registry.mappers})
