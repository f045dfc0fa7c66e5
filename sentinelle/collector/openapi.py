"""OpenAPI 3.1 description of the collector API (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from sentinelle.collector.validate import Limits

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM}},
    }


def report_schema(limits: Limits) -> dict[str, Any]:
    finding = {
        "type": "object",
        "required": ["check", "status", "severity", "summary"],
        "properties": {
            "check": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"},
            "status": {"enum": ["pass", "warn", "fail", "error", "skip"]},
            "severity": {"enum": ["critical", "high", "medium", "low", "info"]},
            "summary": {"type": "string", "maxLength": limits.max_summary},
            "evidence": {"type": "object"},
            "remediation": {
                "type": "object",
                "properties": {"fr": {"type": "string"}, "en": {"type": "string"}},
            },
            "references": {"type": "object"},
            "measurements": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "value"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
                        "value": {"type": "number"},
                        "labels": {
                            "type": "object",
                            "additionalProperties": {"type": "string", "maxLength": 256},
                        },
                    },
                },
            },
        },
    }
    return {
        "type": "object",
        "required": [
            "schema_version",
            "report_id",
            "generated_at",
            "agent",
            "host",
            "checks",
            "results",
            "score",
        ],
        "properties": {
            "schema_version": {"const": 1},
            "report_id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"},
            "generated_at": {"type": "string", "format": "date-time"},
            "agent": {
                "type": "object",
                "required": ["version"],
                "properties": {"version": {"type": "string"}},
            },
            "host": {"type": "object"},
            "checks": {
                "type": "array",
                "maxItems": limits.max_checks,
                "items": {
                    "type": "object",
                    "required": ["check", "status", "duration_seconds"],
                    "properties": {
                        "check": {"type": "string"},
                        "status": {"enum": ["pass", "warn", "fail", "error", "skip"]},
                        "duration_seconds": {"type": "number", "minimum": 0},
                    },
                },
            },
            "results": {"type": "array", "maxItems": limits.max_results, "items": finding},
            "score": {"type": "object"},
        },
    }


def openapi_document(version: str, limits: Limits) -> dict[str, Any]:
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
                        "422": _problem("Invalid host name"),
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
                        "400": _problem("Invalid JSON or gzip"),
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
                "Report": report_schema(limits),
            },
        },
    }
