"""检查通知书 (inspection notice) of a visit as DOCX (python-docx) and PDF (WeasyPrint, Noto CJK fonts)."""

from __future__ import annotations

import io
from typing import Any

from django.template.loader import render_to_string

from jianguan.inspections.models import Visit


def notice_context(visit: Visit) -> dict[str, Any]:
    items = list(visit.items.select_related("item__department").order_by("item__code"))
    team = list(visit.team.select_related("inspector__department").order_by("inspector__department__sort_order"))
    departments = sorted({vi.item.department.name for vi in items})
    return {"visit": visit, "entity": visit.entity, "items": items, "team": team, "departments": departments,
            "unit": visit.unit}


def notice_docx(visit: Visit) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    ctx = notice_context(visit)
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    style.font.size = Pt(12)
    head = doc.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = head.add_run(f"{visit.unit.name}\n检查通知书")
    run.bold = True
    run.font.size = Pt(18)
    doc.add_paragraph(f"编号：{visit.number}").alignment = WD_ALIGN_PARAGRAPH.RIGHT
    doc.add_paragraph(f"{visit.entity.name}（统一社会信用代码：{visit.entity.uscc}）：")
    joint = "、".join(ctx["departments"])
    doc.add_paragraph(
        f"    根据“双随机、一公开”监管工作要求，经随机抽取，你单位被列为{visit.plan.name}的检查对象。"
        f"{joint}将于{visit.period_start:%Y年%m月%d日}至{visit.period_end:%Y年%m月%d日}期间"
        f"对你单位开展{'联合' if len(ctx['departments']) > 1 else ''}检查，请予配合并准备相关资料。")
    doc.add_paragraph("检查事项及检查内容：")
    table = doc.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ["事项编码", "检查事项", "实施部门", "检查内容"], strict=True):
        cell.text = text
    for vi in ctx["items"]:
        cells = table.add_row().cells
        cells[0].text = vi.item.code
        cells[1].text = vi.item.name
        cells[2].text = vi.item.department.name
        cells[3].text = "；".join(vi.item.check_points)
    doc.add_paragraph("检查人员：" + "、".join(f"{m.inspector.name}（执法证号 {m.inspector.cert_no}）"
                                           for m in ctx["team"]))
    doc.add_paragraph("    检查人员与你单位有利害关系的，你单位有权申请回避。拒绝、阻碍检查的，依法承担相应法律责任。"
                      "检查结果将自检查结束之日起20个工作日内通过国家企业信用信息公示系统向社会公示。")
    end = doc.add_paragraph(f"{visit.unit.name}\n（盖章）")
    end.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def notice_pdf(visit: Visit) -> bytes:
    from weasyprint import HTML

    html = render_to_string("inspections/notice_pdf.html", notice_context(visit))
    return HTML(string=html).write_pdf()
