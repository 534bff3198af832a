"""The `gainshare` command line: thin wrappers over the package (SPEC section 5).

Exit codes: 0 success; 1 the answer is "violations found" / "infeasible"; 2 bad input (one line
per problem on stderr, no traceback); 3 an internal fault."""

from __future__ import annotations

import json
import os
import re
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
    rich_markup_mode="markdown",
)

CaseArg = Annotated[Path, typer.Argument(help="Case file (.yaml, .json or .xlsx)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else")]


class NoAnswer(Exception):  # noqa: N818 - an outcome, not a fault
    """The command has no answer to give (exit 1): said in words, or as one JSON document with
    `--json`."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


_EMITTED: list[bool] = []  # a JSON document went to stdout in this command


def emit_json(doc: dict) -> None:
    text = json.dumps(doc, indent=2, allow_nan=False, default=_jsonable)
    _EMITTED.append(True)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _jsonable(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _command_name(fn: Callable) -> str:
    name = fn.__qualname__.split(".")[0]
    return {"workshop_app": "app", "value_of_information": "value-of-information"}.get(name, name)


def guarded(fn: Callable[[], int], as_json: bool = False) -> None:
    """Run a command body; turn bad input into exit 2 and faults into exit 3, no traceback.
    With `as_json`, every way out prints exactly one JSON document on stdout (docs/errors.md)."""
    command = _command_name(fn)
    _EMITTED.clear()
    try:
        code = fn()
    except InputError as e:
        for line in e.problems:
            typer.echo(f"error: {line}", err=True)
        _fallback(as_json, {"command": command, "status": "bad_input",
                            "problems": [problem_fields(line) for line in e.problems]})  # fmt: skip
        raise typer.Exit(2) from None
    except NoAnswer as e:
        typer.echo(f"error: {e.message}", err=True)
        _fallback(as_json, {"command": command, "status": e.status, "message": e.message})
        raise typer.Exit(1) from None
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        stopped = "stopped by the user before an answer was ready"
        _fallback(as_json, {"command": command, "status": "interrupted", "message": stopped})
        raise typer.Exit(130) from None
    except Exception as e:  # noqa: BLE001 - last line of defence for users
        if os.environ.get("GAINSHARE_DEBUG"):
            raise
        text = f"internal error: {type(e).__name__}: {e}"
        typer.echo(f"{text} (set GAINSHARE_DEBUG=1 for detail)", err=True)
        _fallback(as_json, {"command": command, "status": "error", "message": text})
        raise typer.Exit(3) from None
    raise typer.Exit(code)


def _fallback(as_json: bool, doc: dict) -> None:
    """With `--json`, the document for a command that ended before printing its own."""
    if as_json and not _EMITTED:
        emit_json(doc)


_PROBLEM = re.compile(r"^(?P<file>[^:]+?): (?P<rest>.*)$")


def problem_fields(line: str) -> dict:
    """One error line as {file, field, message, fix}; the line reads
    'FILE: FIELD: what is wrong: fix' (field and fix may be absent)."""
    file, rest = None, line
    m = _PROBLEM.match(line)
    if m and ("/" in m["file"] or "." in m["file"] or m["file"].startswith("--")):
        file, rest = m["file"], m["rest"]
    field = None
    head, sep, tail = rest.partition(": ")
    if sep and " " not in head.strip():
        field, rest = head, tail
    message, sep, fix = rest.rpartition(": ")
    if not sep:
        message, fix = rest, None
    return {"file": file, "field": field, "message": message, "fix": fix, "text": line}


@app.command(rich_help_panel="Cases")
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

    guarded(body, as_json)


@app.command(rich_help_panel="Agreements")
def check(
    case: CaseArg,
    agreement: Annotated[Path, typer.Option("--agreement", "-a", help="Agreement file (.yaml)")],
    as_json: JsonOpt = False,
    incentives: Annotated[
        bool,
        typer.Option(
            "--incentives/--no-incentives",
            help="Show how each party's position moves as the scheme grows (one more team, "
            "more referrals, better targeting, a ward closing earlier)",
        ),
    ] = True,
) -> None:
    """Settle an agreement over every scenario and year; exit 1 if a party is not kept whole."""

    def body() -> int:
        import gainshare

        c = gainshare.load_case(case)
        a = gainshare.load_agreement(agreement, c)
        result = gainshare.check(c, a, incentives=incentives)
        if as_json:
            emit_json(result.document)
        else:
            from gainshare.report.console import print_check

            print_check(result, c)
        return 0 if result.all_kept_whole else 1

    guarded(body, as_json)


@app.command(rich_help_panel="Outputs")
def report(
    case: CaseArg,
    agreement: Annotated[Path, typer.Option("--agreement", "-a", help="Agreement file (.yaml)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the report into")],
    as_json: JsonOpt = False,
) -> None:
    """Write the term sheet (Markdown, HTML), statements.xlsx and charts into a folder (exit 0
    whether or not every party is kept whole: the term sheet says so)."""

    def body() -> int:
        import gainshare
        from gainshare.report import check_out_dir, write_report

        c = gainshare.load_case(case)
        a = gainshare.load_agreement(agreement, c)
        check_out_dir(out)
        rep = write_report(c, a, out)
        if as_json:
            files = {k: str(p) for k, p in rep.files.items()}
            doc = {"command": "report", "all_kept_whole": rep.all_kept_whole, "files": files}
            emit_json(doc | {"notes": rep.notes})
            return 0
        for label, path in rep.files.items():
            typer.echo(f"wrote {path}  ({label})")
        for note in rep.notes:
            typer.echo(f"note: {note}", err=True)
        return 0

    guarded(body, as_json)


@app.command(rich_help_panel="Cases")
def template(
    out: Annotated[Path, typer.Option("--out", "-o", help="Workbook to write (.xlsx)")],
    case: Annotated[
        Path | None, typer.Option("--case", help="Fill the workbook from this case file")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file")] = False,
    actuals: Annotated[
        bool,
        typer.Option(
            "--actuals",
            help="Write the actuals file to fill in after a year (.xlsx "
            "or .csv) for the --case, instead of a case workbook",
        ),
    ] = False,  # fmt: skip
    year: Annotated[
        str | None, typer.Option("--year", help="With --actuals: the year to list (default 1)")
    ] = None,
) -> None:
    """Write an Excel case template: one sheet per table, with notes and data validation.
    validate, check and design read the filled workbook. With --actuals, the actuals file of
    a case's year instead, with its contracts, schemes and parties listed (read by settle)."""

    def body() -> int:
        from gainshare.report.excel_case import template_problems, write_case_workbook

        if actuals or year is not None:
            return _actuals_template(out, case, force, year)
        problems = template_problems(out, force)
        if problems:
            raise InputError(problems)
        c = None
        if case is not None:
            import gainshare

            c = gainshare.load_case(case)
        write_case_workbook(c, out)
        typer.echo(f"wrote {out}")
        return 0

    guarded(body)


def _actuals_template(out: Path, case: Path | None, force: bool, year: str | None) -> int:
    import gainshare
    from gainshare.report.actuals_template import (
        actuals_template_problems,
        write_actuals_template,
    )
    from gainshare.schema.actuals import year_number

    if case is None:
        raise InputError(["--actuals: give the case with --case CASE: the template lists its "
                          "contracts, schemes and parties"])  # fmt: skip
    problems = actuals_template_problems(out, force)
    if problems:
        raise InputError(problems)
    c = gainshare.load_case(case)
    try:
        y = 1 if year is None else year_number(year, c)
    except ValueError as e:
        raise InputError([f"--year: {e}"]) from None
    write_actuals_template(c, out, y)
    typer.echo(f"wrote {out}")
    return 0


@app.command(rich_help_panel="Agreements")
def settle(
    case: CaseArg,
    agreement: Annotated[Path, typer.Option("--agreement", "-a", help="Agreement file (.yaml)")],
    actuals: Annotated[
        Path,
        typer.Option("--actuals", help="Outturn figures (.csv or .xlsx; see template --actuals)"),
    ],  # fmt: skip
    year: Annotated[
        str | None,
        typer.Option(
            "--year", help="The year to settle (label or number); default every year in the file"
        ),
    ] = None,  # fmt: skip
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Folder that keeps the history of statements (never overwritten)"
        ),
    ] = None,  # fmt: skip
    months: Annotated[
        int | None,
        typer.Option(
            "--months-to-date", help="Forecast the year from this many months of actuals (1-12)"
        ),
    ] = None,  # fmt: skip
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="With --months-to-date: 'flat' (default) or "
            "twelve monthly weights, e.g. for winter peaks",
        ),
    ] = None,  # fmt: skip
    as_json: JsonOpt = False,
) -> None:
    """Settle an actual year from outturn data: statements in pounds and pence, the bridge from
    the expected to the actual pool, and a true-up against an earlier statement of the year
    kept in --out; with --months-to-date, forecast the year-end settlement with a range."""

    def body() -> int:
        import gainshare
        from gainshare.report import check_out_dir
        from gainshare.report.outturn import (
            keep_forecast,
            keep_outturn,
            print_forecast,
            print_outturn,
        )
        from gainshare.schema.actuals import read_actuals
        from gainshare.settle.forecast import parse_profile
        from gainshare.settle.outturn import forecast_actuals, settle_actuals

        if profile is not None and months is None:
            raise InputError(["--profile: give it with --months-to-date"])
        shape = parse_profile(profile)
        c = gainshare.load_case(case)
        a = gainshare.load_agreement(agreement, c)
        data = read_actuals(actuals, c)
        if out is not None:
            check_out_dir(out)
        if months is not None:
            doc = keep_forecast(out, forecast_actuals(c, a, data, months, year, shape).document)
            if as_json:
                emit_json(doc)
            else:
                print_forecast(doc)
            return 0
        doc = keep_outturn(out, settle_actuals(c, a, data, year).document)
        if as_json:
            emit_json(doc)
        else:
            print_outturn(doc)
        return 0

    guarded(body, as_json)


@app.command(rich_help_panel="Analysis")
def fair(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Fair reference splits of the coalition savings game: Shapley value, nucleolus,
    proportional and equal-surplus."""

    def body() -> int:
        import gainshare
        from gainshare.analysis.coalitions import fair_references
        from gainshare.report.console import print_fair

        doc = fair_references(gainshare.load_case(case))
        if as_json:
            emit_json(doc)
        else:
            print_fair(doc)
        return 0

    guarded(body, as_json)


def _stress_values(values: str | None, span: str | None) -> list[float] | None:
    """--values 0.3,0.5,0.7 or --range LOW:HIGH:STEPS as a list of numbers (None if neither)."""
    import numpy as np

    if values is not None and span is not None:
        raise InputError(["--values and --range: give one of them, not both"])
    try:
        if values is not None:
            return [float(v) for v in values.split(",") if v.strip()]
        if span is not None:
            lo, hi, steps = span.split(":")
            n = int(steps)
            if n < 2:
                raise InputError([f"--range: {span}: STEPS must be 2 or more"])
            return [float(v) for v in np.linspace(float(lo), float(hi), n)]
    except ValueError:
        if values is not None:
            raise InputError(
                ["--values: write numbers separated by commas, e.g. 0.3,0.5,0.7"]
            ) from None
        raise InputError(["--range: write LOW:HIGH:STEPS, e.g. 0.3:0.7:5"]) from None
    return None


@app.command(rich_help_panel="Analysis")
def sensitivity(
    case: CaseArg,
    agreement: Annotated[
        Path | None,
        typer.Option("--agreement", "-a", help="Agreement file (.yaml); default: the designed one"),
    ] = None,
    parameter: Annotated[
        str | None, typer.Option("--parameter", help="Parameter path to stress (see validate)")
    ] = None,
    values: Annotated[
        str | None, typer.Option("--values", help="Values to stress it at, e.g. 0.3,0.5,0.7")
    ] = None,
    span: Annotated[
        str | None, typer.Option("--range", help="Values to stress it at as LOW:HIGH:STEPS")
    ] = None,
    party: Annotated[
        list[str] | None, typer.Option("--party", help="Show only this party (repeatable)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Which uncertain parameters move each party's position most (tornado), and a stress test
    of one parameter across a range; without --agreement, the designed agreement is tested."""

    def body() -> int:
        import gainshare
        from gainshare.analysis.sensitivity import sensitivity as run
        from gainshare.report.console import print_sensitivity

        stress_at = _stress_values(values, span)
        if (parameter is None) != (stress_at is None):
            raise InputError(["--parameter: give it together with --values or --range"])
        c = gainshare.load_case(case)
        if agreement is not None:
            a = gainshare.load_agreement(agreement, c)
        else:  # the designed agreement, as `gainshare design` would give it
            designed = gainshare.design(c)
            if designed.agreement is None:
                raise NoAnswer(designed.status, "no agreement to test: design found none "
                               f"({designed.status}); pass one with --agreement")  # fmt: skip
            a = designed.agreement
        doc = run(c, a, parties=party or None, path=parameter, values=stress_at)
        doc["agreement_source"] = str(agreement) if agreement is not None else "designed"
        if as_json:
            emit_json(doc)
        else:
            print_sensitivity(doc)
        return 0

    guarded(body, as_json)


@app.command(rich_help_panel="Analysis")
def value_of_information(
    case: CaseArg,
    draws: Annotated[
        int, typer.Option("--draws", help="Draws of each parameter to re-solve at (1-500)")
    ] = 20,
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", help="Only this parameter (repeatable; see validate)"),
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective",
            help="commissioners | system_savings | worst_margin (default: the case's)",
        ),
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Solver time limit per solve, seconds")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What to measure first: how much of the design objective the room would gain by knowing
    each uncertain parameter before signing (expected value of partial perfect information,
    by re-solving the design at draws of the parameter), ranked."""

    def body() -> int:
        import gainshare
        from gainshare.analysis.sweep import progress_bar
        from gainshare.analysis.value_of_information import WHOM, solves_needed
        from gainshare.analysis.value_of_information import value_of_information as run

        if time_limit is not None and time_limit <= 0:
            raise InputError(["--time-limit: give a number of seconds above 0"])
        if not 1 <= draws <= 500:
            raise InputError(["--draws: give a whole number from 1 to 500"])
        if objective is not None and objective not in WHOM:
            raise InputError([f"--objective: '{objective}' is not an objective in money: use "
                              "one of " + ", ".join(WHOM)])  # fmt: skip
        c = gainshare.load_case(case)
        if objective is not None:
            req = c.requirements.model_copy(update={"objective": objective})
            c = c.model_copy(update={"requirements": req})
        total = solves_needed(c, draws, parameter or None)
        with progress_bar(total, "value of information") as advance:
            result = run(c, draws, parameter or None, time_limit, advance)
        if as_json:
            emit_json(result.document)
        else:
            from gainshare.report.console import print_value_of_information

            print_value_of_information(result.document)
        return 0

    guarded(body, as_json)


@app.command(rich_help_panel="Agreements")
def design(
    case: CaseArg,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective",
            help="commissioners | system_savings | worst_margin | fair_reference "
            "(default: the case's requirements, else commissioners)",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the agreement to this YAML file")
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Solver time limit in seconds")
    ] = None,
    start: Annotated[
        list[Path] | None,
        typer.Option(
            "--start",
            help="An agreement the room brings (repeatable): the answer "
            "is never worse than one that meets every requirement",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search agreement terms that meet the case's requirements (caps, collars, tiers and the
    corridor the case leaves open, shares in whole percentages); exit 1 if none can. The case's
    own agreement file (CASE.agreement.yaml beside it), if there is one, is a start too."""

    def body() -> int:
        import gainshare
        from gainshare.optimise.designer import design as run
        from gainshare.schema.io import write_agreement
        from gainshare.schema.requirements import OBJECTIVES

        if objective is not None and objective not in OBJECTIVES:
            raise InputError(
                [
                    f"--objective: '{objective}' is not an objective: use one of "
                    + ", ".join(OBJECTIVES)
                ]
            )
        if time_limit is not None and time_limit <= 0:
            raise InputError(["--time-limit: give a number of seconds above 0"])
        if out is not None and not out.parent.exists():
            raise InputError([f"--out: folder {out.parent} does not exist: create it first"])
        c = gainshare.load_case(case)
        starts = [gainshare.load_agreement(p, c) for p in start or []]
        own = case.with_name(case.name.split(".")[0] + ".agreement.yaml")
        if own.is_file() and own not in (start or []):
            starts.append(gainshare.load_agreement(own, c))
        result = run(c, objective=objective, time_limit=time_limit, starts=tuple(starts),
                     structure_values=True)  # fmt: skip
        if out is not None and result.agreement is not None:
            write_agreement(result.agreement, out)
        if as_json:
            emit_json(result.document)
        else:
            from gainshare.report.console import print_design

            print_design(result, c, out)
        return 0 if result.agreement is not None else 1

    guarded(body, as_json)


@app.command(rich_help_panel="Agreements")
def explain(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Why no agreement meets the requirements, and the smallest relaxation that would; exit 1
    when the case is infeasible."""

    def body() -> int:
        import gainshare
        from gainshare.optimise.explain import explain as run

        result = run(gainshare.load_case(case))
        if as_json:
            emit_json(result.document)
        else:
            from gainshare.report.console import print_explain

            print_explain(result)
        return 0 if result.status == "feasible" else 1

    guarded(body, as_json)


@app.command(rich_help_panel="Agreements")
def repair(
    case: CaseArg,
    proposal: Annotated[Path, typer.Option("--proposal", "-p", help="The room's proposal (.yaml)")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the repaired agreement here")
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="L1 weights, e.g. shares=1,caps=0.5,collars=0.5"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The nearest agreement to a proposal that meets every requirement, and what moved; exit 1
    when none exists."""

    def body() -> int:
        import gainshare
        from gainshare.optimise.repair import DEFAULT_WEIGHTS
        from gainshare.optimise.repair import repair as run
        from gainshare.schema.io import write_agreement

        w = _parse_weights(weights, DEFAULT_WEIGHTS)
        if out is not None and not out.parent.exists():
            raise InputError([f"--out: folder {out.parent} does not exist: create it first"])
        c = gainshare.load_case(case)
        p = gainshare.load_agreement(proposal, c)
        result = run(c, p, w)
        if out is not None and result.agreement is not None:
            write_agreement(result.agreement, out)
        if as_json:
            emit_json(result.document)
        else:
            from gainshare.report.console import print_repair

            print_repair(result, c)
        return 0 if result.agreement is not None else 1

    guarded(body, as_json)


def _parse_weights(text: str | None, known: dict[str, float]) -> dict[str, float]:
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in known:
            raise InputError([f"--weights: '{key}' is not a term kind: use {', '.join(known)}"])
        try:
            out[key] = float(value)
        except ValueError:
            raise InputError([f"--weights: '{part}' needs a number, e.g. {key}=0.5"]) from None
        if out[key] < 0:
            raise InputError([f"--weights: {key} must be zero or more"])
    return out


@app.command(rich_help_panel="Analysis")
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep file (.yaml): cases or a grid")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Results file (.csv or .parquet)")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Local worker processes (1: no pool)")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Run on a Dask cluster, e.g. tcp://HOST:PORT"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run many cases or a grid of what-ifs; one row per run in a CSV or parquet file (exit 1
    if a run ended in error)."""

    def body() -> int:
        from gainshare.analysis.sweep import load_sweep, print_sweep, progress_bar, run_sweep

        if workers is not None and workers < 1:
            raise InputError(["--workers: give 1 or more"])
        if scheduler is not None and not re.match(r"^[a-z]+://\S+:\d+$", scheduler):
            raise InputError([f"--scheduler: '{scheduler}' is not an address: use tcp://HOST:PORT"])
        plan = load_sweep(sweep_file, out)
        with progress_bar(plan.runs, "sweep") as advance:
            result = run_sweep(plan, workers=workers, scheduler=scheduler, progress=advance)
        if as_json:
            emit_json(result.document)
        else:
            print_sweep(result)
        return 1 if result.status_counts.get("error") else 0

    guarded(body, as_json)


@app.command(rich_help_panel="Agreements")
def candidates(
    case: CaseArg,
    points: Annotated[
        int, typer.Option("--points", help="Points on the worst-margin frontier (2-50)")
    ] = 20,
    time_limit: Annotated[
        float | None,
        typer.Option("--time-limit", help="Seconds per solve (default: the case's, at most 5)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Candidate agreements side by side: the optimum, trade-off frontiers, a simple one and the
    fair references; exit 1 if none meets every requirement of the case."""

    def body() -> int:
        import gainshare
        from gainshare.analysis.candidates import candidates as run
        from gainshare.report.console import print_candidates

        if not 2 <= points <= 50:
            raise InputError(["--points: give a whole number from 2 to 50"])
        if time_limit is not None and time_limit <= 0:
            raise InputError(["--time-limit: give a number of seconds above 0"])
        c = gainshare.load_case(case)
        result = run(c, n_points=points, time_limit=time_limit)
        if as_json:
            emit_json(result.document)
        else:
            print_candidates(result)
        return 0 if result.feasible else 1

    guarded(body, as_json)


def app_home() -> Path:
    """The workshop app's first page, found beside the installed (editable) package."""
    import gainshare

    home = Path(gainshare.__file__).resolve().parents[2] / "app" / "Home.py"
    if not home.is_file():
        raise InputError([f"{home}: the workshop app is not there: it ships with the source "
                          "repository; install gainshare from a clone with "
                          "`pip install -e '.[app]'`"])  # fmt: skip
    return home


@app.command("app", rich_help_panel="Outputs")
def workshop_app(
    port: Annotated[int | None, typer.Option("--port", help="Port to serve on")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a browser")] = False,
) -> None:
    """Open the workshop app (the same as `streamlit run app/Home.py`)."""

    def body() -> int:
        import importlib.util
        import subprocess

        home = app_home()
        if importlib.util.find_spec("streamlit") is None:
            raise InputError(["streamlit is not installed: run `pip install -e '.[app]'`"])
        cmd = [sys.executable, "-m", "streamlit", "run", str(home), "--client.toolbarMode",
               "minimal", "--browser.gatherUsageStats", "false"]  # fmt: skip
        if port is not None:
            cmd += ["--server.port", str(port)]
        if headless:
            cmd += ["--server.headless", "true"]
        try:
            return subprocess.call(cmd, stdout=sys.stdout)
        except KeyboardInterrupt:
            return 0

    guarded(body)


def documents_only_on_stdout() -> None:
    """Point file descriptor 1 at stderr and keep `sys.stdout` on the real standard output, so
    that only what gainshare prints reaches it: a library writing to the C-level stdout (a
    solver's banner or log) cannot break a `--json` document."""
    try:
        sys.stdout.flush()
        real = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        return
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    sys.stdout = open(real, "w", buffering=1, encoding=enc, errors="replace", closefd=True)  # noqa: SIM115


def main() -> None:
    from gainshare.memory import keep_freed_memory

    keep_freed_memory()
    documents_only_on_stdout()
    app()


if __name__ == "__main__":
    main()
