"""Write the JSON Schemas of the case and agreement files from the pydantic models.

    python scripts/export_schema.py          # writes docs/{case,agreement}.schema.json
    python scripts/export_schema.py --check  # exit 1 if the files in docs/ are out of date

Editors that read JSON Schema (e.g. VS Code with the YAML extension) can then check and complete
case files as they are typed. Run it after any change to src/gainshare/schema/; a test fails
while the committed files differ from the models."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case

DOCS = Path(__file__).resolve().parents[1] / "docs"
MODELS = {"case.schema.json": Case, "agreement.schema.json": Agreement}


def schema_text(model) -> str:
    schema = model.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema"} | schema
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def stale(docs: Path = DOCS) -> list[str]:
    """Files in `docs` that differ from what the models give now."""
    out = []
    for name, model in MODELS.items():
        path = docs / name
        if not path.exists() or path.read_text(encoding="utf-8") != schema_text(model):
            out.append(str(path))
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        old = stale()
        for path in old:
            print(f"{path} is out of date: run python scripts/export_schema.py", file=sys.stderr)
        return 1 if old else 0
    DOCS.mkdir(exist_ok=True)
    for name, model in MODELS.items():
        (DOCS / name).write_text(schema_text(model), encoding="utf-8")
        print(f"wrote {DOCS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
