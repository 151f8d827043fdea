"""Complaint categories (投诉举报分类) and a keyword classifier that suggests one from the text.

The clerk confirms or changes the suggestion; the classifier only orders the choices.
"""

from __future__ import annotations

from dataclasses import dataclass

# (code, label, keywords). Weights: each keyword hit counts once; longer keywords weigh more.
CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("food", "食品安全", ("食品", "过期", "保质期", "变质", "异物", "发霉", "餐饮", "饭店", "外卖", "食物中毒",
                          "头发", "虫子", "超市", "奶粉", "肉", "蛋糕")),
    ("drug", "药品医疗器械", ("药品", "药店", "医疗器械", "口罩", "血糖仪", "处方药", "保健品")),
    ("cosmetics", "化妆品", ("化妆品", "面膜", "护肤", "口红", "过敏", "美容院", "医美")),
    ("special_equipment", "特种设备", ("电梯", "锅炉", "压力容器", "气瓶", "游乐设施", "特种设备", "燃气罐")),
    ("product_quality", "产品质量", ("质量问题", "质量", "坏了", "故障", "开裂", "漏水", "三无产品", "假冒", "伪劣",
                                    "以次充好", "电动车", "家电", "手机", "冰箱", "空调", "洗衣机")),
    ("price", "价格收费", ("价格", "收费", "乱收费", "明码标价", "多收", "加价", "价格欺诈", "标价", "涨价")),
    ("advertising", "广告宣传", ("广告", "虚假宣传", "宣传", "夸大", "虚假广告", "直播")),
    ("online", "网络交易", ("网购", "网店", "网络购物", "七日无理由退货", "无理由退货", "快递", "平台", "直播带货",
                           "发货", "商家不发货", "APP", "app")),
    ("contract", "合同格式条款", ("合同", "格式条款", "霸王条款", "定金", "违约", "押金", "最终解释权")),
    ("prepaid", "预付式消费", ("预付卡", "办卡", "会员卡", "健身", "健身卡", "美容卡", "充值", "闭店", "跑路",
                              "培训", "退费", "课时")),
    ("metrology", "计量", ("缺斤短两", "短斤缺两", "电子秤", "计量", "加油站", "少给", "分量不足")),
    ("trademark", "商标知识产权", ("商标", "假冒品牌", "仿冒", "侵权", "山寨")),
    ("licensing", "无照无证经营", ("无照", "无证", "无照经营", "无营业执照", "没有许可证", "黑作坊")),
    ("service", "售后服务", ("售后", "维修", "退货", "换货", "退款", "拒绝退款", "三包", "保修", "客服")),
    ("other", "其他", ()),
)
CATEGORY_CHOICES: tuple[tuple[str, str], ...] = tuple((c, label) for c, label, _ in CATEGORIES)
CATEGORY_LABELS = dict(CATEGORY_CHOICES)


@dataclass(frozen=True)
class Suggestion:
    """A suggested category with the words that led to it."""

    code: str
    label: str
    score: float
    matched: tuple[str, ...]


def suggest_category(text: str) -> Suggestion:
    """The category whose keywords the text hits most (ties: earlier in the list); "other" if none."""
    best: Suggestion | None = None
    for code, label, words in CATEGORIES:
        matched = tuple(w for w in words if w in (text or ""))
        score = sum(1 + 0.1 * len(w) for w in matched)
        if matched and (best is None or score > best.score):
            best = Suggestion(code, label, round(score, 2), matched)
    return best or Suggestion("other", CATEGORY_LABELS["other"], 0.0, ())
