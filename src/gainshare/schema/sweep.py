"""A sweep file (SWEEP.yaml): many cases, or a grid of what-ifs over one case, run in one go
(SPEC section 4.10). Paths in the file are relative to the file itself.

```yaml
name: Community trust tolerance and targeting
base_case: ../core.yaml
grid:                                   # every combination is one run
  keep_whole.community.tolerance: [0, 50000, 100000]
  schemes.rapid_response.targeting: [0.7, 0.75, 0.8]
output: core.sweep.csv                  # .csv, or .parquet
```

A grid path is a path into the case file: mapping keys joined by dots, and for a list of items
with an `id` (parties, contracts, schemes), a `name` (uncertainty.named) or a `party`
(benefits), the item's id."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gainshare.errors import excerpt
from gainshare.schema.common import Strict

MAX_RUNS = 100_000  # runs in one sweep: split a larger study into several sweep files
RECORDS = ("parties", "shares", "binding", "timings")
_PATH = re.compile(r"^[A-Za-z_][\w\-]*(\.[\w\-]+)+$")


class Sweep(Strict):
    """A grid of what-ifs over one case (`base_case`) or many cases (`cases`)."""

    name: str = Field(min_length=1, description="Title of the sweep")
    description: str = Field(default="", description="What the sweep is for")
    base_case: str | None = Field(
        default=None, description="Case file the grid is applied to (relative to this file)"
    )
    cases: list[str] = Field(
        default_factory=list,
        description="Case files (or glob patterns such as 'systems/*.yaml'), each run with "
        "every grid point; give this or base_case",
    )
    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Case path -> values; one run per combination (e.g. "
        "'keep_whole.acute.tolerance: [0, 100000]', 'requirements.objective: "
        "[commissioners, worst_margin]', 'schemes.rr.targeting: [0.6, 0.8]')",
    )
    output: str | None = Field(
        default=None,
        description="Results file (relative to this file): .csv or .parquet (default: the "
        "sweep file's name with .results.csv)",
    )
    record: list[Literal["parties", "shares", "binding", "timings"]] = Field(
        default_factory=lambda: ["parties", "timings"],
        description="What each row holds besides inputs, status and objective: parties (each "
        "party's expected net, worst net and probability kept whole), shares (each tier's "
        "shares), binding (requirements that bind), timings (seconds per run)",
    )
    chunk: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Grid points re-solved on one built model before another is built (fixed, "
        "so results never depend on the number of workers)",
    )

    @field_validator("grid")
    @classmethod
    def _grid(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in grid.items():
            if not _PATH.match(path):
                raise ValueError(
                    f"{excerpt(path)} is not a case path: write keys joined by dots, e.g. "
                    "keep_whole.acute.tolerance"
                )
            if not values:
                raise ValueError(f"{path} has no values: give at least one")
        return grid

    @model_validator(mode="after")
    def _source(self) -> Sweep:
        if (self.base_case is None) == (not self.cases):
            which = "not both" if self.cases else "one of them"
            raise ValueError(
                f"base_case: give either base_case (one case) or cases (a list), {which}: see "
                "the sweeps in cases/sweeps/"
            )
        if len(set(self.record)) != len(self.record):
            raise ValueError("record: lists an item twice: list each once")
        if self.output is not None and not self.output.lower().endswith((".csv", ".parquet")):
            raise ValueError(
                f"output: {excerpt(self.output)} must end in .csv or .parquet: rename it"
            )
        n = self.grid_size
        if n > MAX_RUNS:
            raise ValueError(
                f"grid: has {n:,} combinations, over the limit of {MAX_RUNS:,} runs a "
                "sweep: split it into several sweep files"
            )
        return self

    @property
    def grid_size(self) -> int:
        n = 1
        for values in self.grid.values():
            n *= len(values)
        return n
