"""Reading the plan catalog: ``--catalog FILE``, else ``$BOTBILL_CATALOG``, else the defaults
shipped in ``billing_rules/data/catalog.json``. The file is decoded here; what makes it
valid is decided by ``billing_rules.catalog.catalog_from_mapping``."""

from __future__ import annotations

import json
import os
from importlib import resources

from botbill.billing_rules.catalog import Catalog, catalog_from_mapping
from botbill.billing_rules.exceptions import InvalidCatalog

__all__ = ["CATALOG_ENV", "load_catalog"]

CATALOG_ENV = "BOTBILL_CATALOG"


def load_catalog(path: str | None = None) -> Catalog:
    """The catalog in force; raises :class:`InvalidCatalog` naming the file and reason."""
    path = path or os.environ.get(CATALOG_ENV) or None
    if path is None:
        source = "botbill.billing_rules/data/catalog.json"
        text = resources.files("botbill.billing_rules").joinpath("data/catalog.json") \
            .read_text(encoding="utf-8")
    else:
        source = path
        try:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
        except OSError as error:
            raise InvalidCatalog(f"cannot read it ({error.strerror})", source) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidCatalog(f"not valid JSON ({error})", source) from None
    return catalog_from_mapping(data, source)
