"""GET /orders/{id}: reads an order back from the SQLite database the store function writes."""

import json
import os
import sqlite3

DB = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.environ.get("DB_PATH", "orders.sqlite"))


def handler(event, context):
    order_id = (event.get("pathParameters") or {}).get("id")
    row = None
    if os.path.exists(DB):
        with sqlite3.connect(DB, timeout=10) as db:
            row = db.execute("SELECT id, customer, total, items, placed_at FROM orders WHERE id = ?",
                             (order_id,)).fetchone()
    if row is None:
        return {"statusCode": 404, "headers": {"content-type": "application/json"},
                "body": json.dumps({"message": f"order {order_id} not found"})}
    # The simplified response form: a plain object becomes a 200 JSON answer.
    return {"id": row[0], "customer": row[1], "total": row[2], "items": json.loads(row[3]),
            "placed_at": row[4]}
