"""Invoice documents from a MONEY_RULES §4 row: amounts from integer cents, drafts refused."""

from __future__ import annotations

import csv
import io
import json

import pytest
from pypdf import PdfReader

from botbill.api.documents import invoice_csv, invoice_json, invoice_pdf
from botbill.api.exceptions import ApiError

ROW = {"invoice_id": "INV-acme-2026-01", "account_id": "acme", "period": "2026-01",
       "status": "final", "total_cents": 123_456_789,
       "lines": [{"bot_id": "bot-a", "kind": "subscription", "quantity": 1,
                  "unit_price_cents": 123_456_700, "amount_cents": 123_456_700},
                 {"bot_id": "bot-a", "kind": "usage_overage", "quantity": 89,
                  "unit_price_cents": 1, "amount_cents": 89}]}


def test_pdf_has_number_account_lines_and_total():
    text = PdfReader(io.BytesIO(invoice_pdf(ROW))).pages[0].extract_text()
    for expected in ("Invoice INV-acme-2026-01", "Account: acme", "Period: 2026-01",
                     "1,234,567.00", "0.89", "Total: USD 1,234,567.89"):
        assert expected in text


def test_drafts_are_not_documents():
    with pytest.raises(ApiError, match="draft"):
        invoice_pdf({**ROW, "status": "draft"})


def test_csv_and_json():
    rows = list(csv.DictReader(io.StringIO(invoice_csv(ROW))))
    assert [r["amount"] for r in rows] == ["1,234,567.00", "0.89", "1,234,567.89"]
    assert rows[-1]["kind"] == "total" and rows[-1]["amount_cents"] == "123456789"
    assert json.loads(invoice_json(ROW)) == ROW
