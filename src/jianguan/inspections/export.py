"""Writing a draw export (candidates.csv, manifest.json, draw.json, verify_draw.py) for the CLI and the staff pages.

candidates.csv is copied from disk, never read into memory: a province plan's is ≈ 4 GB."""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import IO

from jianguan.inspections.domain import draw as draw_domain
from jianguan.inspections.domain.verify import verifier_source
from jianguan.inspections.draws import verified_candidates_path
from jianguan.inspections.models import InspectionPlan
from jianguan.inspections.services import InspectionError


def small_files(plan: InspectionPlan) -> dict[str, bytes]:
    """File name → bytes of every exported file but candidates.csv; draw.json only once the plan is drawn."""
    if not plan.commitment:
        raise InspectionError("计划尚未冻结，没有可导出的抽取文件")
    manifest = json.loads(plan.manifest_json)
    draw = json.loads(plan.draw_json) if plan.draw_json else None
    files = draw_domain.export_files(b"", manifest, draw)
    del files["candidates.csv"]
    files["verify_draw.py"] = verifier_source()
    return files


def export_to_dir(plan: InspectionPlan, out: str | Path) -> list[Path]:
    small = small_files(plan)
    source = verified_candidates_path(plan)
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, directory / "candidates.csv")
    written = [directory / "candidates.csv"]
    for name, data in small.items():
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written


def export_zip(plan: InspectionPlan) -> IO[bytes]:
    """The export as a zip in a temporary file (deleted when closed), positioned at its start."""
    small = small_files(plan)
    source = verified_candidates_path(plan)
    out = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the response, which closes it)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(source, f"draw-{plan.pk}/candidates.csv")
        for name, data in small.items():
            zf.writestr(f"draw-{plan.pk}/{name}", data)
    out.seek(0)
    return out
