"""The `gainshare` command line: thin wrappers over the package (SPEC section 5).

Exit codes: 0 success; 1 the answer is "violations found" / "infeasible"; 2 bad input (one line
per problem on stderr, no traceback); 3 an internal fault."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

try:  # typer 0.2x carries its own copy of click, whose exceptions its parser raises
    from typer._click import exceptions as clicks
except ImportError:  # pragma: no cover - older typer parses with click itself
    from click import exceptions as clicks

from gainshare.errors import InputError, clip, excerpt


class Commands(TyperGroup):
    """The command group: a command line that cannot be parsed (`--time-limit abc`, a missing
    `--agreement`, a misspelt option) is bad input like any other, one line on stderr, exit 2,
    and with `--json` one JSON document (docs/errors.md)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except clicks.NoArgsIsHelpError as e:
            e.show()
            code = e.exit_code
        except clicks.ClickException as e:
            code = _usage_error(e, argv)
        except typer.Abort:
            code = 130
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=Commands,
    add_completion=False,
    no_args_is_help=True,
    help="Design and check multilateral gain/loss sharing agreements.",
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

CaseArg = Annotated[Path, typer.Argument(help="Case file (.yaml, .json or .xlsx)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Replace an existing output (else it is refused)")
]


class NoAnswer(Exception):  # noqa: N818 - an outcome, not a fault
    """The command has no answer to give (exit 1): said in words, or as one JSON document with
    `--json`."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


_EMITTED: list[bool] = []  # a JSON document went to stdout in this command
_WARNINGS: list[str] = []  # warnings said on stderr in this command, also put in the document


def emit_json(doc: dict) -> None:
    if _WARNINGS and "warnings" not in doc:
        doc = doc | {"warnings": list(_WARNINGS)}
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
    _WARNINGS.clear()
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
        text = clip(f"internal error: {type(e).__name__}: {e}", 300)
        typer.echo(f"{text} (set GAINSHARE_DEBUG=1 for detail)", err=True)
        _fallback(as_json, {"command": command, "status": "error", "message": text})
        raise typer.Exit(3) from None
    raise typer.Exit(code)


def _fallback(as_json: bool, doc: dict) -> None:
    """With `--json`, the document for a command that ended before printing its own."""
    if as_json and not _EMITTED:
        emit_json(doc)


# The FIELD of a problem line: a dotted path, a place in a file, an option or a whole-file marker.
_FIELD = re.compile(
    r"^(\((file|command line|top level)\)|line \d+(, column \d+)?|sheet .+|--[\w-]+|"
    r"[A-Za-z_][^\s:]*)$"
)


_OUTPUT = re.compile(r"^(--[\w-]+|output)$")  # the FIELD after an output path: --out, output


def _is_file(part: str) -> bool:
    return not part.startswith(("--", "(", "sheet ", "line ")) and (
        "/" in part or "." in part or "\\" in part
    )


def problem_fields(line: str) -> dict:
    """One error line as {file, field, message, fix}; the line reads
    'FILE: FIELD: what is wrong: fix' (docs/errors.md); FILE is absent for a command-line
    option, which is then the FIELD."""
    file = field = None
    rest = line
    head, sep, tail = rest.partition(": ")
    after = tail.partition(": ")[0]
    if sep and not head.startswith(("--", "(")) and (_is_file(head) or _OUTPUT.match(after)):
        file, rest = head, tail
        head, sep, tail = rest.partition(": ")
    if sep and _FIELD.match(head):
        field, rest = head, tail
    message, sep, fix = rest.rpartition(": ")
    if not sep:
        message, fix = rest, None
    return {"file": file, "field": field, "message": message, "fix": fix, "text": line}


# ---------------------------------------------------------------- the command line itself


def _param_name(param) -> str:
    if param is None:
        return "(command line)"
    if getattr(param, "param_type_name", "") == "option":
        return max(param.opts, key=len)
    return param.human_readable_name


def _given(param, argv: list[str]) -> str | None:
    """What was written for an option on the command line (its last occurrence)."""
    value = None
    for i, arg in enumerate(argv):
        for opt in getattr(param, "opts", ()):
            if arg == opt and i + 1 < len(argv):
                value = argv[i + 1]
            elif arg.startswith(opt + "="):
                value = arg[len(opt) + 1 :]
    return value


def _long_name(e, argv: list[str]) -> str:
    """The long name of an option given by its short one (-a: --agreement)."""
    name = str(e.option_name)
    command = next((a for a in argv if a in app_commands()), None)
    if command is not None:
        params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
        for param in params:
            if name in getattr(param, "opts", ()):
                return _param_name(param)
    return excerpt(name).strip("'")


def _usage_line(e: clicks.ClickException, argv: list[str]) -> str:
    """A parsing error of the command line as one problem line: 'FIELD: what is wrong: fix'."""
    ctx = getattr(e, "ctx", None)
    words = ["gainshare", *(ctx.command_path.split()[1:] if ctx else [])]
    helper = f"see `{' '.join(words)} --help`"
    message = str(getattr(e, "message", "") or e.format_message()).strip().rstrip(".")
    if isinstance(e, clicks.MissingParameter):
        return f"{_param_name(e.param)}: is required but missing: give it ({helper})"
    if isinstance(e, clicks.BadParameter):
        what = "a whole number" if "integer" in message else "a number"
        if "number" not in message and "integer" not in message and "float" not in message:
            return f"{_param_name(e.param)}: {message}: {helper}"
        given = _given(e.param, argv)
        shown = excerpt(given) if given is not None else "the value"
        return f"{_param_name(e.param)}: {shown} is not {what}: give {what} ({helper})"
    if isinstance(e, clicks.NoSuchOption):
        near = f" (did you mean {sorted(e.possibilities)[0]}?)" if e.possibilities else ""
        return f"{excerpt(e.option_name).strip(chr(39))}: no such option{near}: {helper}"
    if isinstance(e, clicks.BadOptionUsage):
        return f"{_long_name(e, argv)}: needs a value: give one ({helper})"
    if message.startswith("No such command"):
        names = ", ".join(sorted(app_commands()))
        return f"(command line): {message[:1].lower()}{message[1:]}: use one of {names}"
    return f"(command line): {message[:1].lower()}{message[1:]}: {helper}"


def app_commands() -> list[str]:
    return [c.name or c.callback.__name__ for c in app.registered_commands]


def _usage_error(e: clicks.ClickException, argv: list[str]) -> int:
    line = InputError([_usage_line(e, argv)]).problems[0]
    typer.echo(f"error: {line}", err=True)
    if "--json" in argv:
        command = next((a for a in argv if a in app_commands()), "gainshare")
        emit_json({"command": command, "status": "bad_input", "problems": [problem_fields(line)]})
    return 2


# ---------------------------------------------------------------- reading and checking


def read_case(path: Path, to_design: bool = False):
    """The case, through the one loader; figures that look like a units slip are said on
    stderr as warnings (and put in a --json document). `to_design`: the command designs, so a
    case design cannot answer is refused here, naming the file."""
    import gainshare
    from gainshare.schema.io import case_warnings

    case = gainshare.load_case(path)
    warn([f"{path}: {w}" for w in case_warnings(case)])
    if to_design:
        from gainshare.optimise.unsupported import refuse_case

        refuse_case(case, where=str(path))
    return case


def warn(lines: list[str]) -> None:
    for line in lines:
        _WARNINGS.append(line)
        typer.echo(f"warning: {line}", err=True)


MAX_SECONDS = 86_400  # the longest solver time limit, as the case's requirements.time_limit


def check_seconds(value: float | None, option: str = "--time-limit") -> None:
    if value is not None and not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise InputError([f"{option}: {excerpt(value)} is not a number of seconds from 0 to "
                          f"{MAX_SECONDS:,}: give e.g. {option} 30"])  # fmt: skip


def check_out(out: Path | None, force: bool, **kw) -> None:
    """An --out target, checked before any work (see gainshare.output)."""
    if out is not None:
        from gainshare.output import check_target

        check_target(out, "--out", force, **kw)


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
        warn(doc["warnings"])
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

        c = read_case(case)
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
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the term sheet (Markdown, HTML), statements.xlsx and charts into a new or empty
    folder, or replace an earlier report with --force (exit 0 whether or not every party is
    kept whole: the term sheet says so)."""

    def body() -> int:
        import gainshare
        from gainshare.report import check_out_dir, write_report

        check_out_dir(out, force)
        c = read_case(case)
        a = gainshare.load_agreement(agreement, c)
        rep = write_report(c, a, out, force=force)
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
    force: ForceOpt = False,
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
        from gainshare.report.excel_case import write_case_workbook

        if actuals or year is not None:
            return _actuals_template(out, case, force, year)
        check_out(out, force, suffixes=(".xlsx",))
        c = read_case(case) if case is not None else None
        write_case_workbook(c, out, force)
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
        from gainshare.output import check_history_folder
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
            check_history_folder(out)
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
        c = read_case(case)
        from gainshare.analysis.coalitions import fair_references
        from gainshare.report.console import print_fair

        doc = fair_references(c)
        if as_json:
            emit_json(doc)
        else:
            print_fair(doc)
        return 0

    guarded(body, as_json)


def _number(text: str, option: str, example: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError([f"{option}: {excerpt(text.strip())} is not a number: write numbers, "
                          f"e.g. {option} {example}"]) from None  # fmt: skip
    if not math.isfinite(v) or abs(v) > 1e12:
        raise InputError([f"{option}: {excerpt(text.strip())} is not a finite number within a "
                          f"trillion: write plain numbers, e.g. {option} {example}"])  # fmt: skip
    return v


def _stress_values(values: str | None, span: str | None) -> list[float] | None:
    """--values 0.3,0.5,0.7 or --range LOW:HIGH:STEPS as a list of numbers (None if neither);
    at most MAX_STRESS_POINTS of them, counted before any is made."""
    from gainshare.analysis.sensitivity import MAX_STRESS_POINTS as most

    if values is not None and span is not None:
        raise InputError(["--values: give --values or --range, not both: drop one"])
    if values is not None:
        parts = [v for v in values.split(",", most + 1) if v.strip()]
        if len(parts) > most:
            raise InputError([f"--values: more than {most} values: give at most {most}"])
        return [_number(v, "--values", "0.3,0.5,0.7") for v in parts]
    if span is None:
        return None
    bits = span.split(":")
    if len(bits) != 3:
        raise InputError([f"--range: {excerpt(span)} is not LOW:HIGH:STEPS: write e.g. --range "
                          "0.3:0.7:5"])  # fmt: skip
    lo, hi = (_number(b, "--range", "0.3:0.7:5") for b in bits[:2])
    steps = bits[2].strip()
    if not steps.isdigit() or not 2 <= int(steps[:6]) <= most or len(steps) > 6:
        raise InputError([f"--range: STEPS {excerpt(steps)} is not a whole number from 2 to "
                          f"{most}: write e.g. --range 0.3:0.7:5"])  # fmt: skip
    n = int(steps)
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


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
        from gainshare.analysis.sensitivity import check_request
        from gainshare.analysis.sensitivity import sensitivity as run
        from gainshare.report.console import print_sensitivity

        stress_at = _stress_values(values, span)
        if (parameter is None) != (stress_at is None):
            raise InputError(["--parameter: give it together with --values or --range: add "
                              "the one missing"])  # fmt: skip
        c = read_case(case)
        check_request(c, party or None, parameter, stress_at)
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
        c = read_case(case, to_design=True)
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
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Search agreement terms that meet the case's requirements (caps, collars, tiers and the
    corridor the case leaves open, shares in whole percentages); exit 1 if none can. The case's
    own agreement file (CASE.agreement.yaml beside it), if there is one, is a start too. An
    existing --out file is replaced only with --force."""

    def body() -> int:
        from gainshare.schema.requirements import OBJECTIVES

        if objective is not None and objective not in OBJECTIVES:
            raise InputError([f"--objective: {excerpt(objective)} is not an objective: use one "
                              "of " + ", ".join(OBJECTIVES)])  # fmt: skip
        check_seconds(time_limit)
        check_out(out, force)
        c = read_case(case, to_design=True)
        import gainshare

        starts = [gainshare.load_agreement(p, c) for p in start or []]
        own = case.with_name(case.name.split(".")[0] + ".agreement.yaml")
        if own.is_file() and own not in (start or []):
            starts.append(gainshare.load_agreement(own, c))
        from gainshare.optimise.designer import design as run  # Pyomo: after the input is read
        from gainshare.schema.io import write_agreement

        result = run(c, objective=objective, time_limit=time_limit, starts=tuple(starts),
                     structure_values=True)  # fmt: skip
        if out is not None and result.agreement is not None:
            write_agreement(result.agreement, out, force)
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
        c = read_case(case, to_design=True)
        from gainshare.optimise.explain import explain as run  # Pyomo: after the input is read

        result = run(c)
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
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """The nearest agreement to a proposal that meets every requirement, and what moved; exit 1
    when none exists."""

    def body() -> int:
        import gainshare

        w = _parse_weights(weights, TERM_KINDS)
        check_out(out, force)
        c = read_case(case, to_design=True)
        p = gainshare.load_agreement(proposal, c)
        from gainshare.optimise.repair import repair as run  # Pyomo: after the input is read
        from gainshare.schema.io import write_agreement

        result = run(c, p, w)
        if out is not None and result.agreement is not None:
            write_agreement(result.agreement, out, force)
        if as_json:
            emit_json(result.document)
        else:
            from gainshare.report.console import print_repair

            print_repair(result, c)
        return 0 if result.agreement is not None else 1

    guarded(body, as_json)


MAX_WEIGHT = 1_000  # an L1 weight: relative, so a thousand to one is already extreme
TERM_KINDS = ("shares", "caps", "collars")  # the keys of gainshare.optimise.repair.DEFAULT_WEIGHTS


def _parse_weights(text: str | None, known: tuple[str, ...]) -> dict[str, float]:
    if not text:
        return {}
    out = {}
    for part in text.split(",", len(known) + 1)[: len(known) + 1]:
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in known:
            raise InputError([f"--weights: {excerpt(key)} is not a term kind: use "
                              f"{', '.join(known)}, e.g. shares=1,caps=0.5"])  # fmt: skip
        if key in out:
            raise InputError([f"--weights: {key} is given twice: give each once"])
        try:
            out[key] = float(value)
        except ValueError:
            raise InputError([f"--weights: {excerpt(part)} needs a number: write e.g. "
                              f"{key}=0.5"]) from None  # fmt: skip
        if not (math.isfinite(out[key]) and 0 <= out[key] <= MAX_WEIGHT):
            raise InputError([f"--weights: {key}={excerpt(value)} is not a number from 0 to "
                              f"{MAX_WEIGHT:,}: write e.g. {key}=0.5"])  # fmt: skip
    return out


MAX_WORKERS = 256


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
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run many cases or a grid of what-ifs; one row per run in a CSV or parquet file (exit 1
    if a run ended in error). An existing results file is replaced only with --force."""

    def body() -> int:
        from gainshare.analysis.sweep import load_sweep, print_sweep, progress_bar, run_sweep

        if workers is not None and not 1 <= workers <= MAX_WORKERS:
            raise InputError([f"--workers: {workers} is not from 1 to {MAX_WORKERS}: give e.g. "
                              "--workers 4"])  # fmt: skip
        if scheduler is not None and not re.match(r"^[a-z]+://\S{1,200}:\d{1,5}$", scheduler):
            raise InputError([f"--scheduler: {excerpt(scheduler)} is not an address: use "
                              "tcp://HOST:PORT"])  # fmt: skip
        plan = load_sweep(sweep_file, out, force)
        warn(list(plan.warnings))
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

        if not 2 <= points <= 50:
            raise InputError([f"--points: {points} is not from 2 to 50: give a whole number "
                              "from 2 to 50"])  # fmt: skip
        check_seconds(time_limit)
        c = read_case(case, to_design=True)
        from gainshare.analysis.candidates import candidates as run  # Pyomo: after the input
        from gainshare.report.console import print_candidates

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
        raise InputError([f"{home}: (file): the workshop app is not there: it ships with the "
                          "source repository; install gainshare from a clone with "
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

        if port is not None and not 1 <= port <= 65_535:
            raise InputError([f"--port: {port} is not a port number: give one from 1 to 65535"])
        home = app_home()
        if importlib.util.find_spec("streamlit") is None:
            raise InputError(["(command line): streamlit is not installed: run "
                              "`pip install -e '.[app]'`"])  # fmt: skip
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
    from gainshare.output import stop_on_signals

    keep_freed_memory()
    stop_on_signals()
    documents_only_on_stdout()
    try:
        app()
    except KeyboardInterrupt:  # a signal after the command's own handling (its answer is out)
        sys.exit(130)


if __name__ == "__main__":
    main()
