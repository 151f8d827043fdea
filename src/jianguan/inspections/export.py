"""Writing a draw export (candidates.csv, manifest.json, draw.json, verify_draw.py) for the CLI and the portal."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from jianguan.inspections.domain import draw as draw_domain
from jianguan.inspections.domain.verify import verifier_source
from jianguan.inspections.draws import candidates_bytes
from jianguan.inspections.models import InspectionPlan
from jianguan.inspections.services import InspectionError


def export_files(plan: InspectionPlan) -> dict[str, bytes]:
    """File name → bytes; draw.json only once the plan is drawn."""
    if not plan.commitment:
        raise InspectionError("计划尚未冻结，没有可导出的抽取文件")
    manifest = json.loads(plan.manifest_json)
    draw = json.loads(plan.draw_json) if plan.draw_json else None
    files = draw_domain.export_files(candidates_bytes(plan), manifest, draw)
    files["verify_draw.py"] = verifier_source()
    return files


def export_to_dir(plan: InspectionPlan, out: str | Path) -> list[Path]:
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in export_files(plan).items():
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written


def export_zip(plan: InspectionPlan) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in export_files(plan).items():
            zf.writestr(f"draw-{plan.pk}/{name}", data)
    return buf.getvalue()
