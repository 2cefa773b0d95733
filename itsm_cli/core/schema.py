"""JSON Schema checks, compiled once per schema (jsonschema is imported only when needed)."""

from __future__ import annotations

from typing import Any

SchemaError = tuple[tuple, str]  # (path inside the instance, message)


class SchemaSet:
    """The desk's schemas (draft 2020-12, cross-referenced by ``$id``), with a validator per file."""

    def __init__(self, schemas: dict[str, dict[str, Any]]):
        self.schemas = schemas
        self._validators: dict[str, Any] = {}
        self._registry: Any = None

    def _validator(self, name: str) -> Any:
        v = self._validators.get(name)
        if v is None:
            from jsonschema import Draft202012Validator
            from referencing import Registry, Resource

            if self._registry is None:
                resources = [
                    (s["$id"], Resource.from_contents(s)) for s in self.schemas.values() if isinstance(s, dict) and "$id" in s
                ]
                self._registry = Registry().with_resources(resources)
            v = Draft202012Validator(self.schemas[name], registry=self._registry)
            self._validators[name] = v
        return v

    def has(self, name: str) -> bool:
        """True when the desk has a schema file of this name."""
        return name in self.schemas

    def errors(self, name: str, instance: Any) -> list[SchemaError]:
        """Every schema violation of ``instance``, each with its path and a readable message."""
        from jsonschema.exceptions import relevance

        validator = self._validator(name)
        out = []
        for error in sorted(validator.iter_errors(instance), key=relevance):
            if error.validator in ("anyOf", "oneOf") and error.context:
                best = min(error.context, key=lambda e: (len(e.path), e.message))
                path = tuple(error.absolute_path) + tuple(best.path)
                out.append((path, best.message))
                continue
            out.append((tuple(error.absolute_path), _message(error)))
        out.sort(key=lambda e: [str(p) for p in e[0]])
        return out

    def internal_fields(self, name: str) -> set[str]:
        """Top-level properties the schema marks ``x-internal`` (never published)."""
        props = self.schemas.get(name, {}).get("properties", {})
        return {k for k, v in props.items() if isinstance(v, dict) and v.get("x-internal")}


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field")
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "pattern":
        field = _where(error.path) if error.path else "value"
        return f"{field}: {error.instance!r} does not have the expected form ({error.schema.get('description') or error.validator_value})"
    if error.validator == "const" and error.path:
        return f"{_where(error.path)}: must be {error.validator_value!r}, not {error.instance!r}"
    if error.path:
        return f"{_where(error.path)}: {error.message}"
    return error.message
