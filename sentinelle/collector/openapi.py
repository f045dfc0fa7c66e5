"""OpenAPI 3.1 description of the collector API (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from sentinelle.collector.validate import Limits, report_json_schema

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM}},
    }


def openapi_document(version: str, limits: Limits) -> dict[str, Any]:
    """The document; the Report's schema is derived from the structs the collector decodes."""
    report = report_json_schema(limits)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sentinelle collector",
            "version": version,
            "description": "Enrollment and Report ingest for Sentinelle agents.",
        },
        "paths": {
            "/api/v1/enroll": {
                "post": {
                    "summary": "Exchange a commune enrollment token for an agent id and key",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["token", "hostname"],
                                    "properties": {
                                        "token": {"type": "string"},
                                        "hostname": {"type": "string", "maxLength": 63},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Enrolled",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "agent_id": {"type": "string"},
                                            "key": {"type": "string"},
                                            "commune": {"type": "string"},
                                            "host": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        },
                        "400": _problem("Malformed request"),
                        "401": _problem("Unknown token"),
                        "403": _problem("Expired, used up or revoked token"),
                        "413": _problem("Body too large"),
                        "422": _problem("Invalid host name"),
                        "429": _problem("Too many attempts from this address; see Retry-After"),
                    },
                }
            },
            "/api/v1/reports": {
                "post": {
                    "summary": "Push one Report (gzip accepted); stored durably before 2xx",
                    "security": [{"agentKey": []}],
                    "parameters": [
                        {
                            "name": "Content-Encoding",
                            "in": "header",
                            "required": False,
                            "schema": {"enum": ["gzip", "identity"]},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Report"}}
                        },
                    },
                    "responses": {
                        "201": {"description": "Stored"},
                        "200": {"description": "Already stored (replay acknowledged)"},
                        "400": _problem("Invalid JSON or gzip (one member, nothing after it)"),
                        "408": _problem("The body did not arrive within the body timeout"),
                        "401": _problem("Unknown agent or wrong key"),
                        "403": _problem("Agent revoked"),
                        "413": _problem("Body too large (compressed or decompressed)"),
                        "415": _problem("Unsupported Content-Encoding"),
                        "422": _problem("Report fails validation"),
                        "429": _problem("Rate limited; see Retry-After"),
                        "503": _problem("Storage unavailable; retry"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Fleet posture in Prometheus text format",
                    "responses": {"200": {"description": "Exposition"}},
                }
            },
            "/sd": {
                "get": {
                    "summary": "Prometheus HTTP service discovery",
                    "responses": {"200": {"description": "Target groups"}},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and store health",
                    "responses": {
                        "200": {"description": "OK"},
                        "503": _problem("Store unavailable"),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "agentKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "AGENT_ID:KEY from enrollment",
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                },
                **report["components"],
                "Report": report["schema"],
            },
        },
    }
