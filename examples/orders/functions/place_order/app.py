"""POST /orders: validates an order, publishes OrderPlaced on the `orders` bus, answers 201."""

import json
import os
import uuid

import boto3

# AWS_ENDPOINT_URL (set by eddy) points the SDK at eddy.
events = boto3.client("events")


def respond(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}


def handler(event, context):
    try:
        order = json.loads(event.get("body") or "{}")
    except json.JSONDecodeError:
        return respond(400, {"message": "the body must be JSON"})
    customer = order.get("customer")
    items = order.get("items")
    if not isinstance(customer, str) or not customer:
        return respond(400, {"message": "`customer` is required"})
    if not isinstance(items, list) or not items:
        return respond(400, {"message": "`items` must be a non-empty list"})
    total = 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("sku"), str):
            return respond(400, {"message": "each item needs a `sku`"})
        qty, price = item.get("qty", 1), item.get("price")
        if not isinstance(qty, int) or qty < 1 or not isinstance(price, (int, float)) or price < 0:
            return respond(400, {"message": "each item needs a positive `qty` and a `price`"})
        total += qty * price
    order_id = str(uuid.uuid4())
    detail = {"id": order_id, "customer": customer, "items": items, "total": round(total, 2)}
    r = events.put_events(Entries=[{
        "EventBusName": os.environ.get("BUS_NAME", "orders"),
        "Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": json.dumps(detail)}])
    if r["FailedEntryCount"]:
        return respond(503, {"message": "could not publish the order"})
    print(f"order {order_id} placed for {customer}: {detail['total']}")
    return respond(201, {"id": order_id, "total": detail["total"], "status": "placed"})
