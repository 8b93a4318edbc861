"""Invoice and receipt documents from a MONEY_RULES §4 invoice row: PDF, CSV and JSON.

Amounts are formatted from integer cents (``billing_rules.admin.format_cents``), never through
a float. A PDF is made only for a final invoice or receipt: drafts are not documents (their
numbers and totals may still change).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from fpdf import FPDF

from botbill.billing_rules.admin import format_cents

from .exceptions import ApiError

__all__ = ["KIND_LABELS", "invoice_csv", "invoice_json", "invoice_pdf"]

KIND_LABELS = {
    "subscription": "Subscription (prorated monthly fee)",
    "usage_overage": "Usage sessions over the quota",
    "alert_overage": "Alert sessions over the quota",
    "adjustment": "Adjustment (late events of an earlier month)",
    "funds": "Funds added",
}


def _is_receipt(row: Mapping[str, Any]) -> bool:
    return str(row["invoice_id"]).startswith("RCT-")


def _latin1(text: Any) -> str:
    """The PDF core fonts are Latin-1: anything else is shown as '?'."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(row: Mapping[str, Any]) -> bytes:
    """A one-document PDF of a final invoice or receipt."""
    if row["status"] != "final":
        raise ApiError(f"invoice {row['invoice_id']} is a draft: drafts are not downloadable")
    title = "Receipt" if _is_receipt(row) else "Invoice"
    pdf = FPDF(format="A4")
    pdf.set_title(f"{title} {row['invoice_id']}")
    pdf.set_creator("botbill")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(f"{title} {row['invoice_id']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for label, value in (("Number", row["invoice_id"]), ("Account", row["account_id"]),
                         ("Period", row["period"]), ("Status", row["status"]),
                         ("Currency", "USD")):
        pdf.cell(0, 7, _latin1(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (35, 70, 20, 30, 35)
    pdf.set_font("Helvetica", "B", 10)
    for width, head in zip(widths, ("Bot", "Description", "Qty", "Unit price", "Amount"),
                           strict=True):
        pdf.cell(width, 8, head, border=1, align="R" if head in ("Qty", "Unit price",
                                                                 "Amount") else "L")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in row["lines"]:
        cells = (line["bot_id"], KIND_LABELS.get(line["kind"], line["kind"]),
                 str(line["quantity"]), format_cents(line["unit_price_cents"]),
                 format_cents(line["amount_cents"]))
        for index, (width, text) in enumerate(zip(widths, cells, strict=True)):
            pdf.cell(width, 7, _latin1(text), border=1, align="R" if index >= 2 else "L")
        pdf.ln()
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, f"Total: USD {format_cents(row['total_cents'])}", align="R",
             new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def invoice_csv(row: Mapping[str, Any]) -> str:
    """One CSV row per line (cents and formatted amounts), then a total row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["invoice_id", "account_id", "period", "status", "bot_id", "kind",
                     "quantity", "unit_price_cents", "amount_cents", "unit_price", "amount"])
    head = [row["invoice_id"], row["account_id"], row["period"], row["status"]]
    for line in row["lines"]:
        writer.writerow([*head, line["bot_id"], line["kind"], line["quantity"],
                         line["unit_price_cents"], line["amount_cents"],
                         format_cents(line["unit_price_cents"]),
                         format_cents(line["amount_cents"])])
    writer.writerow([*head, "", "total", "", "", row["total_cents"], "",
                     format_cents(row["total_cents"])])
    return out.getvalue()


def invoice_json(row: Mapping[str, Any]) -> str:
    """The MONEY_RULES §4 row itself, one line."""
    return json.dumps(dict(row), separators=(", ", ": ")) + "\n"
