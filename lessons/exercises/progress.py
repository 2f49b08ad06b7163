"""What you have done: ``out/exercises/progress.json`` keeps, per exercise, the result of
its last check, when it was first solved, and how many hints you have seen."""
from __future__ import annotations

import json
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "out" / "exercises"


class Progress:
    """The progress file of one learner (one ``out/`` folder)."""

    def __init__(self, folder: Path = DEFAULT) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "progress.json"
        try:
            self.data: dict = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def of(self, name: str) -> dict:
        return self.data.setdefault(name, {"hints": 0})

    def status(self, name: str) -> str:
        """'solved', 'not done yet', 'failing: <check>' or '' (never checked)."""
        last = self.data.get(name, {}).get("last")
        if last is None:
            return ""
        return {"ok": "solved", "todo": "not done yet"}.get(last, f"failing: {last}")

    def checked(self, name: str, result: str) -> None:
        """Note a check's result: 'ok', 'todo' or the name of the check that failed."""
        rec = self.of(name)
        rec["last"], rec["checked"] = result, time.strftime("%Y-%m-%d %H:%M")
        if result == "ok":
            rec.setdefault("solved", rec["checked"])
        self.save()

    def hints(self, name: str) -> int:
        return self.data.get(name, {}).get("hints", 0)

    def saw_hint(self, name: str, number: int) -> None:
        rec = self.of(name)
        rec["hints"] = max(rec.get("hints", 0), number)
        self.save()

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, ensure_ascii=False, sort_keys=True))
        tmp.replace(self.path)
