"""Counters the reliability suite reports at the end of the run (`make reliability` prints them).

Tests add to the module-level `SUMMARY`; conftest.py prints it in `pytest_terminal_summary` and
writes it as JSON next to the pytest cache, so CI can keep it as an artifact.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Summary:
    cases_generated: int = 0
    operations_failed: int = 0
    cases_by_operation: dict[str, int] = field(default_factory=dict)
    faults_injected: int = 0
    faults_survived: int = 0
    faults: list[str] = field(default_factory=list)
    writes_acknowledged: int = 0
    writes_found: int = 0
    recovery_seconds: list[float] = field(default_factory=list)
    abuse_cases: int = 0

    def record_case(self, operation: str) -> None:
        self.cases_generated += 1
        self.cases_by_operation[operation] = self.cases_by_operation.get(operation, 0) + 1

    def record_fault(self, name: str, *, survived: bool) -> None:
        self.faults_injected += 1
        self.faults_survived += int(survived)
        self.faults.append(f"{name}: {'survived' if survived else 'FAILED'}")

    def lines(self) -> list[str]:
        lost = self.writes_acknowledged - self.writes_found
        recovery = ", ".join(f"{seconds:.2f}s" for seconds in self.recovery_seconds) or "-"
        return [
            f"schemathesis cases generated: {self.cases_generated} "
            f"across {len(self.cases_by_operation)} operations, "
            f"operations with failures: {self.operations_failed}",
            f"faults injected: {self.faults_injected}, survived: {self.faults_survived}",
            *(f"  - {fault}" for fault in self.faults),
            f"writes acknowledged (201): {self.writes_acknowledged}, found in the database: "
            f"{self.writes_found}, lost: {lost}",
            f"recovery after PostgreSQL accepted connections again: {recovery}",
            f"abuse cases checked: {self.abuse_cases}",
        ]

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self) | {"writes_lost": self.writes_acknowledged - self.writes_found}
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


SUMMARY = Summary()
