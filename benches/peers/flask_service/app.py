"""Flask peer of `irtlab serve`: item response probabilities over HTTP, the classic way.

    GET  /v1/probabilities?theta=0.5&theta=1,2[&items=item01,item02]
    POST /v1/probabilities   {"theta": 0.5 | [θ, ...], "items": ["item01", ...]?}

The answer is {"items": [...], "theta": [...], "probabilities": [[P per item] per θ]} with
P = c + (1 - c) / (1 + exp(-a(θ - b))) (2PL when c = 0, 3PL otherwise), computed with numpy
over the whole θ × item grid at once. Item parameters come from a CSV with columns item, a, b
and optionally c, read once when the app is created. Errors are JSON too:
{"error_message": "...", "result": <HTTP status>}.

Run it with gunicorn, 2 synchronous workers (what benches/peers/http_load.py does):

    ITEMS_CSV=items.csv gunicorn -w 2 -b 127.0.0.1:8000 --chdir benches/peers/flask_service \
        'app:create_app()'
"""

from __future__ import annotations

import csv
import functools
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from flask import Flask, Response, jsonify, request
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from werkzeug.exceptions import BadRequest, HTTPException

# Request body of POST (and the query of GET, once parsed into the same shape).
PROBABILITIES_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "theta": {
            "oneOf": [
                {"type": "number"},
                {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 100_000},
            ]
        },
        "items": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
    },
    "required": ["theta"],
    "additionalProperties": False,
}


class ItemBank:
    """Item parameters as numpy vectors, in the CSV's order."""

    def __init__(self, path: str) -> None:
        names, a, b, c = [], [], [], []
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                names.append(row["item"])
                a.append(float(row["a"]))
                b.append(float(row["b"]))
                c.append(float(row.get("c") or 0.0))  # no c column, or an empty cell: 2PL
        if not names:
            raise ValueError(f"{path}: no items")
        self.names = names
        self.index = {name: j for j, name in enumerate(names)}
        self.a, self.b, self.c = np.array(a), np.array(b), np.array(c)

    def probabilities(self, theta: np.ndarray, columns: np.ndarray | slice) -> np.ndarray:
        """P(correct), shape (len(theta), number of items chosen)."""
        a, b, c = self.a[columns], self.b[columns], self.c[columns]
        return c + (1.0 - c) / (1.0 + np.exp(-a * (theta[:, None] - b)))


def error_response(message: str, code: int) -> tuple[Response, int]:
    return jsonify({"error_message": message, "result": code}), code


def query_as_body() -> dict[str, Any]:
    """GET: theta (repeated and/or comma-separated) and items (comma-separated) as a body."""
    body: dict[str, Any] = {}
    thetas = [part for value in request.args.getlist("theta") for part in value.split(",") if part]
    if thetas:
        try:
            body["theta"] = [float(part) for part in thetas]
        except ValueError as exc:
            raise BadRequest(f"theta: not a number ({exc})") from None
    items = [part for value in request.args.getlist("items") for part in value.split(",") if part]
    if items:
        body["items"] = items
    unknown = set(request.args) - {"theta", "items"}
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    return body


def validate_body(schema: dict[str, Any]) -> Callable:
    """Decorator: validate the JSON body (POST) or the query (GET) against `schema`; the view
    receives it as `body`. Invalid requests get a 400 JSON error naming the offending field."""
    validator = Draft202012Validator(schema)  # compiled once, at import

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if request.method == "GET":
                body = query_as_body()
            else:
                body = request.get_json(silent=True)
                if body is None:
                    return error_response("the request body must be JSON "
                                          "(Content-Type: application/json)", 400)
            error = best_match(validator.iter_errors(body))
            if error is not None:
                where = "/".join(str(part) for part in error.absolute_path) or "body"
                return error_response(f"{where}: {error.message}", 400)
            return view(*args, body=body, **kwargs)

        return wrapper

    return decorate


def create_app(items_path: str | None = None) -> Flask:
    """The app; `items_path` defaults to $ITEMS_CSV."""
    items_path = items_path or os.environ.get("ITEMS_CSV")
    if not items_path:
        raise RuntimeError("set ITEMS_CSV (or pass items_path) to the item-parameter CSV")
    bank = ItemBank(items_path)
    app = Flask(__name__)

    @app.route("/v1/probabilities", methods=["GET", "POST"])
    @validate_body(PROBABILITIES_SCHEMA)
    def probabilities(body: dict[str, Any]):
        theta_value = body["theta"]
        theta_list = theta_value if isinstance(theta_value, list) else [theta_value]
        # JSON parsers accept NaN/Infinity literals, which are numbers to the schema.
        if not all(math.isfinite(t) for t in theta_list):
            return error_response("theta: values must be finite numbers", 400)
        theta = np.asarray(theta_list, dtype=float)
        if "items" in body:
            unknown = [name for name in body["items"] if name not in bank.index]
            if unknown:
                return error_response(f"items: unknown item(s): {', '.join(unknown[:10])}", 400)
            names = body["items"]
            columns: np.ndarray | slice = np.array([bank.index[name] for name in names])
        else:
            names, columns = bank.names, slice(None)
        p = bank.probabilities(theta, columns)
        return jsonify({"items": names, "theta": theta.tolist(), "probabilities": p.tolist()})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return error_response(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response("internal server error", 500)

    return app
