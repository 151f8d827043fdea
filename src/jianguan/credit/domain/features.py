"""The catalogue of feature names a risk model may reference, and who is expected to provide each.

A factor whose feature is not listed here is an error in the model file. A listed feature that no installed
module provides yet scores 0 and is explained as "数据暂缺 (no data source yet)".
"""

from __future__ import annotations

# name -> (provider module, Chinese description)
KNOWN_FEATURES: dict[str, tuple[str, str]] = {
    # credit / registry
    "annual_report_missing_2y": ("credit", "最近两个年度中逾期（6月30日后）仍未报送年度报告的年数"),
    "annual_report_late_2y": ("credit", "最近两个年度中逾期补报年度报告的年数"),
    "on_abnormal_list": ("credit", "当前在经营异常名录中（1/0）"),
    "abnormal_listings_3y": ("credit", "近三年被列入经营异常名录的次数（含已移出）"),
    "on_serious_list": ("credit", "当前在严重违法失信名单中（1/0）"),
    "penalties_minor_3y": ("credit", "近三年轻微情节行政处罚次数"),
    "penalties_general_3y": ("credit", "近三年一般情节行政处罚次数"),
    "penalties_heavy_3y": ("credit", "近三年较重（从重）情节行政处罚次数"),
    "licence_revoked": ("credit", "被吊销的许可证数量（登记数据无吊销日期，按当前状态）"),
    "established_under_1y": ("credit", "成立不满一年（1/0）"),
    "established_3y_plus": ("credit", "成立满三年（1/0）"),
    "high_risk_business": ("credit", "持有高风险许可证或带有高风险标签（食品、药品、特种设备、危险化学品等）（1/0）"),
    "associated_cd_entities": ("credit", "同一法定代表人（同一县级区划）名下上月为C/D类的其他主体数"),
    # inspections
    "inspections_with_problems_3y": ("inspections", "近三年双随机抽查发现问题的次数"),
    "inspections_unreachable_3y": ("inspections", "近三年抽查结果为“通过登记的住所（经营场所）无法联系”的次数"),
    # complaints
    "verified_complaints_12m": ("complaints", "近12个月经核实的投诉件数"),
    "verified_reports_12m": ("complaints", "近12个月经核查属实的举报件数"),
    # food safety, special equipment (modules to come)
    "unqualified_food_samples_3y": ("food_safety", "近三年食品抽检不合格批次"),
    "overdue_special_equipment": ("equipment", "超期未检的特种设备台数"),
}

# Age buckets a provider may add for a decaying feature: "<feature>@0" (events 0-12 months old), "@1" (12-24),
# "@2" (24-36) …; the scorer weights each bucket by 0.5 ** (bucket mid-age / half-life).
BUCKET_SEPARATOR = "@"
BUCKET_MONTHS = 12


def bucket_column(feature: str, k: int) -> str:
    return f"{feature}{BUCKET_SEPARATOR}{k}"
