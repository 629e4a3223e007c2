"""Validates job_schedules and job_schedule_runs rows the way the trading
framework's web UI reads them: through pydantic v2 response models with the
fields, types and before-validators of its schedule and run schemas (written
here from their description, not copied).

Input (stdin): one JSON object per line, {"table": "job_schedules" |
"job_schedule_runs", "row": {...}}, each row as PostgreSQL's to_jsonb gives
it (a text column arrives as a JSON string, a jsonb column as JSON).

Output: one line per rejected row, "REJECTED <table> id=<id>: <errors>",
then "CHECKED <schedules> <runs>". Exit status 1 when a row was rejected,
2 on bad input.
"""

import enum
import json
import sys
from datetime import datetime
from typing import Any, Dict, Optional

from pydantic import BaseModel, ValidationError, field_validator


class JobType(str, enum.Enum):
    SCHEDULE = "schedule"
    SCREENER = "screener"
    ALERT = "alert"
    NOTIFICATION = "notification"
    DATA_PROCESSING = "data_processing"
    BACKUP = "backup"
    REPORT = "report"
    SCRIPT = "script"


class RunStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _json_loads_strings(v: Any) -> Any:
    if isinstance(v, (str, bytes, bytearray)):
        return json.loads(v)
    return v


class ScheduleResponse(BaseModel):
    id: int
    user_id: int
    name: str
    job_type: JobType
    target: str
    task_params: Dict[str, Any]
    cron: str
    enabled: bool
    next_run_at: Optional[datetime] = None
    created_at: datetime
    updated_at: datetime
    state_json: Dict[str, Any] = {}

    @field_validator("task_params", "state_json", mode="before")
    @classmethod
    def _parse_json(cls, v: Any) -> Any:
        return _json_loads_strings(v)


class ScheduleRunResponse(BaseModel):
    id: int
    job_type: JobType
    job_id: Optional[str] = None
    user_id: Optional[int] = None
    status: Optional[RunStatus] = None
    scheduled_for: Optional[datetime] = None
    enqueued_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    job_snapshot: Optional[Dict[str, Any]] = None
    result: Optional[Dict[str, Any]] = None
    error: Optional[str] = None

    @field_validator("job_id", mode="before")
    @classmethod
    def _job_id_str(cls, v: Any) -> Any:
        return None if v is None else str(v)

    @field_validator("job_snapshot", "result", mode="before")
    @classmethod
    def _parse_json(cls, v: Any) -> Any:
        return _json_loads_strings(v)


MODELS = {"job_schedules": ScheduleResponse, "job_schedule_runs": ScheduleRunResponse}


def describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "<row>"
        inp = json.dumps(err.get("input"), default=str)
        if len(inp) > 80:
            inp = inp[:77] + "..."
        parts.append(f"{loc}: {err.get('msg')} (input {inp})")
    return "; ".join(parts)


def main() -> int:
    counts = {name: 0 for name in MODELS}
    rejected = 0
    for lineno, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
            table, row = item["table"], item["row"]
            model = MODELS[table]
        except (ValueError, KeyError, TypeError) as e:
            print(f"BAD INPUT line {lineno}: {e!r}")
            return 2
        counts[table] += 1
        try:
            model.model_validate(row)
        except ValidationError as e:
            rejected += 1
            print(f"REJECTED {table} id={row.get('id')}: {describe(e)}")
    print(f"CHECKED {counts['job_schedules']} {counts['job_schedule_runs']}")
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
