"""The `gainshare` command line: thin wrappers over the package (SPEC section 5).

Exit codes: 0 success; 1 the answer is "violations found" / "infeasible"; 2 bad input (one line
per problem on stderr, no traceback); 3 an internal fault."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from gainshare.schema.io import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Design and check multilateral gain/loss sharing agreements.",
    pretty_exceptions_enable=False,
)

CaseArg = Annotated[Path, typer.Argument(help="Case file (.yaml, .json or .xlsx)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else")]


def emit_json(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False, default=_jsonable) + "\n")


def _jsonable(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def guarded(fn: Callable[[], int]) -> None:
    """Run a command body; turn bad input into exit 2 and faults into exit 3, no traceback."""
    try:
        code = fn()
    except InputError as e:
        for line in e.problems:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - last line of defence for users
        if os.environ.get("GAINSHARE_DEBUG"):
            raise
        typer.echo(f"internal error: {type(e).__name__}: {e} (set GAINSHARE_DEBUG=1 for detail)",
                   err=True)  # fmt: skip
        raise typer.Exit(3) from None
    raise typer.Exit(code)


@app.command()
def validate(
    case: CaseArg,
    as_json: JsonOpt = False,
    parameters: Annotated[
        bool, typer.Option("--parameters", help="List the uncertain parameters and their paths")
    ] = False,
) -> None:
    """Check a case file and print a one-line summary (exit 2 with one line per problem)."""

    def body() -> int:
        from gainshare.analysis.validate import validate_case

        doc = validate_case(case)
        if as_json:
            emit_json(doc)
            return 0
        from gainshare.report.console import print_validation

        print_validation(doc, parameters)
        return 0

    guarded(body)


@app.command()
def check(
    case: CaseArg,
    agreement: Annotated[Path, typer.Option("--agreement", "-a", help="Agreement file (.yaml)")],
    as_json: JsonOpt = False,
) -> None:
    """Settle an agreement over every scenario and year; exit 1 if a party is not kept whole."""

    def body() -> int:
        import gainshare

        c = gainshare.load_case(case)
        a = gainshare.load_agreement(agreement, c)
        result = gainshare.check(c, a)
        if as_json:
            emit_json(result.document)
        else:
            from gainshare.report.console import print_check

            print_check(result, c)
        return 0 if result.all_kept_whole else 1

    guarded(body)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
