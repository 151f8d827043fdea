"""Synthetic history of complaints, reports and consultations for `jianguan synth` (AppConfig.synth_steps).

About 0.11 submissions per entity per year (Shandong 2023: 1.65 million for ~15 million entities), skewed towards
retail, catering, services, education and e-commerce platforms; realistic Chinese text from templates; deadlines
from the same clock the services use; handling times that mostly meet the deadlines, some late, and the most
recent cases still open (some due soon, some overdue, as of `ctx.today`).
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from jianguan.complaints.domain import clock
from jianguan.complaints.domain.categories import CATEGORY_LABELS
from jianguan.core.domain.calendar import CalendarYearMissing

RATE_PER_ENTITY = 0.11
KINDS = (("complaint", 0.70), ("report", 0.20), ("consultation", 0.10))
CHANNELS = (("12315_platform", 0.45), ("12315_hotline", 0.25), ("12345_hotline", 0.20), ("portal", 0.04),
            ("counter", 0.03), ("mail", 0.01), ("api", 0.02))
SECTION_WEIGHT = {"F": 3.0, "H": 3.5, "O": 2.5, "P": 3.0, "R": 2.5, "Q": 1.5, "I": 1.5, "K": 1.5, "C": 0.8,
                  "E": 0.5, "A": 0.2, "G": 0.8, "L": 0.8, "M": 0.4, "N": 0.5, "S": 0.3}
SECTION_CATEGORIES: dict[str, tuple[tuple[str, float], ...]] = {
    "F": (("food", 25), ("product_quality", 25), ("price", 10), ("service", 20), ("online", 10), ("metrology", 5),
          ("trademark", 5)),
    "H": (("food", 70), ("price", 15), ("service", 15)),
    "P": (("prepaid", 70), ("contract", 30)),
    "O": (("prepaid", 30), ("service", 40), ("price", 15), ("contract", 15)),
    "R": (("prepaid", 60), ("contract", 20), ("price", 20)),
    "C": (("product_quality", 60), ("trademark", 15), ("advertising", 10), ("licensing", 15)),
    "I": (("online", 60), ("contract", 20), ("advertising", 20)),
    "Q": (("drug", 50), ("cosmetics", 30), ("advertising", 20)),
    "K": (("contract", 60), ("price", 40)),
    "G": (("service", 50), ("price", 30), ("contract", 20)),
    "*": (("service", 30), ("price", 20), ("product_quality", 20), ("contract", 15), ("other", 15)),
}
PLATFORM_CATEGORIES = (("online", 70), ("service", 30))

PRODUCTS = {
    "food": ["纯牛奶", "面包", "熟食", "火腿肠", "饮料", "月饼", "海参", "大米", "食用油", "外卖套餐", "蛋糕",
             "速冻水饺"],
    "product_quality": ["电动自行车", "冰箱", "空调", "洗衣机", "手机", "热水器", "电饭煲", "儿童玩具", "羽绒服",
                        "运动鞋"],
    "online": ["手机壳", "连衣裙", "蓝牙耳机", "扫地机器人", "护肤套装", "零食礼包", "运动鞋"],
    "cosmetics": ["面膜", "口红", "精华液", "防晒霜"],
    "drug": ["感冒药", "血压计", "保健品", "医用口罩"],
}
PROBLEMS = {
    "food": ["已超过保质期", "开封后发现有异物", "已经发霉变质", "食用后腹泻", "包装上没有生产日期"],
    "product_quality": ["使用不到一个月就出现故障", "外壳开裂", "无法正常开机", "多次维修仍有质量问题",
                        "与宣传的功能不符"],
    "online": ["商家迟迟不发货", "收到的商品与描述不符", "申请七日无理由退货被拒绝", "商家拒绝退款", "收到假货"],
    "cosmetics": ["使用后皮肤过敏", "疑似假冒产品", "没有中文标签"],
    "drug": ["药品已过期", "宣传能治病", "无处方销售处方药"],
}
PREPAID = ["健身卡", "美容卡", "游泳卡", "培训课程", "洗车卡", "理发会员卡", "儿童乐园年卡"]
REPORT_TEMPLATES = [
    "举报{shop}销售过期食品，店内货架上有多种过期商品，请依法查处。",
    "举报{shop}无照经营，长期占道经营且没有营业执照。",
    "举报{shop}虚假宣传，宣传单上声称产品可以治疗疾病。",
    "举报{shop}价格欺诈，标价与结算价格不一致。",
    "举报{shop}使用未经检定的电子秤，存在缺斤短两。",
    "举报{shop}销售假冒注册商标的商品。",
    "举报{shop}电梯长期未进行定期检验，存在安全隐患。",
    "举报{shop}后厨卫生条件差，从业人员无健康证。",
]
CONSULT_TEMPLATES = ["咨询个体工商户如何办理营业执照", "咨询食品经营许可证办理需要哪些材料", "咨询企业年报如何填报",
                     "咨询商标注册流程", "咨询如何查询企业信用信息", "咨询预付卡退费的相关规定"]
STREET_WORDS = ["幸福小区", "阳光花园", "锦绣家园", "和平里", "书香苑", "金色家园", "滨海花园", "新村"]
GIVEN = ["建国", "丽华", "志强", "秀英", "海波", "晓燕", "明", "静", "伟", "婷婷", "军", "芳", "磊", "洋", "勇", "娜",
         "敏", "杰", "涛", "艳", "强", "霞", "平", "刚", "桂英", "玉兰", "浩", "宇", "欣", "鑫"]


def _facts(category: str, shop: str, rng: np.random.Generator, received: dt.date) -> tuple[str, str]:
    day = received - dt.timedelta(days=int(rng.integers(1, 20)))
    when = f"{day.month}月{day.day}日"
    amount = int(rng.choice([39, 58, 99, 128, 199, 299, 399, 599, 899, 1280, 2680, 3999]))
    if category in PRODUCTS:
        product = PRODUCTS[category][int(rng.integers(len(PRODUCTS[category])))]
        problem = PROBLEMS[category][int(rng.integers(len(PROBLEMS[category])))]
        facts = f"{when}在{shop}购买{product}，价格{amount}元，{problem}，与商家协商未果。"
        request = ["要求退货退款", f"要求退款{amount}元", "要求更换商品", "要求按规定赔偿"][int(rng.integers(4))]
    elif category == "prepaid":
        card = PREPAID[int(rng.integers(len(PREPAID)))]
        facts = (f"去年在{shop}办理{card}，充值{amount * 10}元，"
                 "现在商家闭店（经营者跑路），余额无法使用，要求退费被拒绝。")
        request = "要求退还预付卡余额"
    elif category == "price":
        facts = f"{when}在{shop}消费，结账时价格高于标价，多收{amount // 10 + 5}元，商家未明码标价。"
        request = "要求退还多收的费用"
    elif category == "metrology":
        facts = f"{when}在{shop}购买水果，回家称重发现缺斤短两，怀疑电子秤有问题。"
        request = "要求退还差价并核查计量器具"
    elif category == "contract":
        facts = (f"与{shop}签订合同时被要求接受“最终解释权归商家所有”等格式条款，"
                 f"现要求解除合同退还定金{amount}元被拒绝。")
        request = "要求退还定金"
    elif category == "advertising":
        facts = f"{shop}广告宣传与实际不符，存在虚假宣传，购买后发现效果与宣传差距很大。"
        request = "要求退款"
    elif category == "trademark":
        facts = f"{when}在{shop}购买的名牌商品疑似假冒，商标印刷模糊。"
        request = "要求退一赔三"
    elif category == "licensing":
        facts = f"{shop}没有营业执照仍在经营，购买的商品出现问题后找不到经营者。"
        request = "要求退款"
    else:
        facts = f"{when}在{shop}接受服务，售后服务态度差，维修后问题依旧，多次联系客服无人处理。"
        request = "要求退款或重新维修"
    return facts, request


_WEIGHTS: dict[tuple[tuple[str, float], ...], tuple[list[str], np.ndarray]] = {}


def _weights(pairs: Sequence[tuple[str, float]]) -> tuple[list[str], np.ndarray]:
    """Names and normalised probabilities (memoised: called for every generated case)."""
    key = tuple(pairs)
    hit = _WEIGHTS.get(key)
    if hit is None:
        w = np.array([p[1] for p in pairs], dtype=float)
        hit = _WEIGHTS[key] = ([p[0] for p in pairs], w / w.sum())
    return hit


class _Clock:
    """Deadlines per start date, memoised (a year has ~365 distinct starts)."""

    def __init__(self, rulesets: Sequence[clock.RuleSet], calendar: Any):
        self.rulesets, self.calendar = rulesets, calendar
        self._cache: dict[tuple[str, str, dt.date, int], dt.date | None] = {}

    def rule(self, day: dt.date) -> clock.RuleSet:
        return clock.ruleset_for(self.rulesets, day)

    def due(self, rule: clock.RuleSet, key: str, start: dt.date, extra: int = 0) -> dt.date | None:
        k = (rule.code, key, start, extra)
        if k not in self._cache:
            try:
                ext = [clock.Extension(extra)] if extra else []
                self._cache[k] = clock.compute_period(rule.period(key), start, self.calendar,
                                                      warn_ratio=rule.warn_ratio, extensions=ext).due
            except CalendarYearMissing:
                self._cache[k] = None
        return self._cache[k]

    def warn(self, rule: clock.RuleSet, key: str, start: dt.date, extra: int = 0) -> dt.date | None:
        k = (rule.code, f"{key}:warn", start, extra)
        if k not in self._cache:
            try:
                ext = [clock.Extension(extra)] if extra else []
                self._cache[k] = clock.compute_period(rule.period(key), start, self.calendar,
                                                      warn_ratio=rule.warn_ratio, extensions=ext).warn_on
            except CalendarYearMissing:
                self._cache[k] = None
        return self._cache[k]

    def add_wd(self, start: dt.date, n: int) -> dt.date | None:
        try:
            return self.calendar.add_working_days(start, n)
        except CalendarYearMissing:
            return None


def generate(ctx: Any) -> None:
    """Make up a year of complaints, reports and consultations for the entities in `ctx`."""
    from jianguan.complaints.rules import get_rulesets
    from jianguan.core.calendar_service import get_calendar

    started = time.monotonic()
    ents = ctx.entities
    if ents is None or ents.height == 0:
        ctx.say("投诉举报：没有市场主体，跳过")
        return
    rng = ctx.rng("complaints")
    clk = _Clock(get_rulesets(), get_calendar())
    units = _unit_ids() if ctx.load else {}
    total = 0
    sink = _Sink(ctx)
    with sink:
        for division in sorted(ents["division"].unique().to_list()):
            part = ents.filter(pl.col("division") == division)
            made = _division_frame(part, division, rng, clk, ctx, units, first_index=sink.first_id + total)
            if made is not None and made[0].height:
                sink.write(*made)
                total += made[0].height
    ctx.facts["complaints"] = total
    if ctx.load and total:
        from jianguan.complaints.summary import summary_rebuild

        summary_rebuild(today=ctx.today)
    ctx.say(f"投诉举报 {total} 件（{time.monotonic() - started:.1f}s）")


def _unit_ids() -> dict[str, int]:
    from jianguan.core.models import Unit

    return dict(Unit.objects.values_list("code", "id"))


def _division_frame(
    ents: pl.DataFrame, division: str, rng: np.random.Generator, clk: _Clock, ctx: Any,
    units: dict[str, int], *, first_index: int,
) -> tuple[pl.DataFrame, list[tuple[int, int, str]]] | None:
    from jianguan.complaints.services import _station_towns

    start, end = ctx.year_start, ctx.year_end
    days = (end - start).days + 1
    n = int(rng.poisson(RATE_PER_ENTITY * ents.height * days / 365))
    if n == 0:
        return None
    sections = ents["section"].to_list()
    platform = ents["is_ecommerce_platform"].to_numpy()
    w = np.array([SECTION_WEIGHT.get(s, 0.5) for s in sections]) * rng.pareto(1.5, ents.height).clip(0, 50) + 0.01
    w = np.where(platform, w * 40, w)
    picks = rng.choice(ents.height, size=n, p=w / w.sum())
    kinds_n, kinds_p = _weights(KINDS)
    chan_n, chan_p = _weights(CHANNELS)
    kind_idx = rng.choice(len(kinds_n), size=n, p=kinds_p)
    chan_idx = rng.choice(len(chan_n), size=n, p=chan_p)
    day_off = rng.integers(0, days, size=n)
    seconds = rng.integers(8 * 3600, 20 * 3600, size=n)
    towns = _station_towns()
    station_by_town = {t: code for code, ts in towns.items() if code.startswith(f"{division}-") for t in ts}
    intake_code = f"{division[:4]}00-12315"
    intake_id = units.get(intake_code) or next((v for k, v in units.items() if k.endswith("-12315")), None)
    if ctx.load and intake_id is None:
        raise RuntimeError("没有12315投诉举报中心单位：请先运行 jianguan org bootstrap / demo 建立组织机构")
    today = ctx.today
    ids, uscc, names_, divs, inds, streets, odr = (ents["id"].to_list(), ents["uscc"].to_list(),
                                                   ents["name"].to_list(), ents["division"].to_list(),
                                                   ents["industry"].to_list(), ents["street"].to_list(),
                                                   ents["odr_enabled"].to_list())
    cols: dict[str, list[Any]] = {k: [] for k in COLUMNS}
    extensions: list[tuple[int, int, str]] = []
    pro_pool = [(f"{_surname(rng)}{GIVEN[int(rng.integers(len(GIVEN)))]}", f"13{int(rng.integers(10**8, 10**9))}")
                for _ in range(5)]
    for i in range(n):
        e = int(picks[i])
        kind = kinds_n[kind_idx[i]]
        received_on = start + dt.timedelta(days=int(day_off[i]))
        if received_on >= today:
            continue
        received_at = dt.datetime.combine(received_on, dt.time(), tzinfo=clock.SHANGHAI) + dt.timedelta(
            seconds=int(seconds[i]))
        rule = clk.rule(received_on)
        sec = sections[e]
        cat_pairs = PLATFORM_CATEGORIES if platform[e] else SECTION_CATEGORIES.get(sec, SECTION_CATEGORIES["*"])
        cn, cp = _weights(cat_pairs)
        category = cn[int(rng.choice(len(cn), p=cp))]
        shop = names_[e]
        professional = kind == "complaint" and category == "food" and rng.random() < 0.03
        if professional:
            cname, phone = pro_pool[int(rng.integers(len(pro_pool)))]
        else:
            cname = f"{_surname(rng)}{GIVEN[int(rng.integers(len(GIVEN)))]}"
            phone = f"1{int(rng.choice([3, 5, 7, 8, 9]))}{int(rng.integers(10**8, 10**9))}"
        street = streets[e] or ""
        caddr = f"{street}{STREET_WORDS[int(rng.integers(len(STREET_WORDS)))]}{int(rng.integers(1, 30))}号楼"
        if kind == "complaint":
            facts, request = _facts(category, shop, rng, received_on)
        elif kind == "report":
            facts, request = REPORT_TEMPLATES[int(rng.integers(len(REPORT_TEMPLATES)))].format(shop=shop), ""
        else:
            facts, request = CONSULT_TEMPLATES[int(rng.integers(len(CONSULT_TEMPLATES)))], ""
        unit_code = "" if platform[e] else station_by_town.get(street, "")
        unit_code = unit_code or f"{divs[e]}-samr"
        row = _handle(kind, received_on, rule, clk, rng, today, odr=bool(odr[e]) and kind == "complaint",
                      professional=professional)
        if row.pop("_extension", False):
            extensions.append((first_index + len(cols["tracking_number"]), 15, "案情复杂，需调取交易记录"))
        idx = first_index + len(cols["tracking_number"])
        prefix = {"complaint": "T", "report": "J", "consultation": "Z"}[kind]
        values = {
            "tracking_number": f"{prefix}{received_on:%Y%m%d}{idx + 1:08d}", "external_ref": "",
            "kind": kind, "channel": chan_n[chan_idx[i]], "received_at": received_at, "received_on": received_on,
            "rule_code": rule.code, "complainant_name": cname if kind != "consultation" or rng.random() < 0.5 else "",
            "complainant_phone": phone, "complainant_address": caddr if kind == "complaint" else "",
            "respondent_name": shop if kind != "consultation" else "—",
            "respondent_address": street, "respondent_uscc": uscc[e] if kind != "consultation" else "",
            "entity_id": ids[e] if kind != "consultation" else None,
            "division_code": divs[e], "industry_code": inds[e], "request": request, "facts": facts,
            "category": category if kind != "consultation" else "other", "category_suggested": category,
            "quantity": int(rng.integers(20, 120)) if professional else None, "amount_claimed": None,
            "intake_unit_id": intake_id, "suggested_unit_code": unit_code,
            "routing_note": "第十三条：由被投诉（举报）人所在地市场监督管理部门处理" if kind != "consultation" else "",
            "flag_count": 0,
        }
        if kind == "consultation" or row.get("status") == "registered":
            values["unit_id"] = None
        else:
            values["unit_id"] = units.get(unit_code) or units.get(f"{divs[e]}-samr")
        values.update(row)
        for k in COLUMNS:
            cols[k].append(values.get(k))
    if not cols["tracking_number"]:
        return None
    frame = pl.DataFrame(cols, schema=SCHEMA)
    frame = frame.with_columns(pl.Series("id", range(first_index + 1, first_index + 1 + frame.height),
                                         dtype=pl.Int64))
    frame = frame.with_columns(
        pl.when(pl.col("unit_id").is_null() & (pl.col("status") != "closed")).then(pl.lit("registered"))
        .otherwise(pl.col("status")).alias("status"),
        pl.when(pl.col("unit_id").is_null() & (pl.col("status") != "closed")).then(pl.lit(""))
        .otherwise(pl.col("result")).alias("result"))
    return frame, extensions


_SURNAME_TABLE: tuple[list[str], np.ndarray] | None = None


def _surname(rng: np.random.Generator) -> str:
    global _SURNAME_TABLE
    if _SURNAME_TABLE is None:
        from jianguan.synth.names import SURNAMES

        w = np.array([c for _, c in SURNAMES], dtype=float)
        _SURNAME_TABLE = ([s for s, _ in SURNAMES], w / w.sum())
    names, p = _SURNAME_TABLE
    return names[int(rng.choice(len(names), p=p))]


def _handle(kind: str, received: dt.date, rule: clock.RuleSet, clk: _Clock, rng: np.random.Generator,
            today: dt.date, *, odr: bool, professional: bool) -> dict[str, Any]:
    """Outcome and dates of one case: most on time, some late, the recent ones still open."""
    out: dict[str, Any] = {"status": "closed", "result": "", "accept_due": None, "accept_warn": None,
                           "odr_due": None, "accepted_on": None, "mediation_due": None, "mediation_warn": None,
                           "notice_due": None, "verify_start": None, "verify_due": None, "verify_warn": None,
                           "next_due": None, "next_warn": None, "final_due": None, "decision_ground": "",
                           "decision_text": "", "amount_recovered": None, "closed_on": None, "clock_note": ""}

    def close(on: dt.date | None, result: str, final_due: dt.date | None) -> None:
        out["result"], out["final_due"] = result, final_due
        if on is None or on >= today:
            out["status"], out["result"], out["closed_on"] = "open", "", None
        else:
            out["closed_on"] = on

    if kind == "consultation":
        out.update(result="answered", closed_on=received, decision_text="已告知通过相应途径办理（第四十四条）")
        return out
    # A small backlog: recent cases nobody has acted on yet, so the demo shows overdue work.
    stuck = (today - received).days < 75 and rng.random() < 0.04
    if kind == "report":
        late = rng.random() < 0.05
        extended = rng.random() < 0.08
        out["verify_due"] = clk.due(rule, "verify", received, 15 if extended else 0)
        out["verify_warn"] = clk.warn(rule, "verify", received, 15 if extended else 0)
        out["_extension"] = extended
        delay = int(rng.integers(16, 30)) if extended else int(rng.integers(3, 15))
        decided = None if stuck else clk.add_wd(received, delay + (int(rng.integers(2, 10)) if late else 0))
        opened = rng.random() < 0.25
        close(decided, "case_opened" if opened else "no_case", out["verify_due"])
        if out["status"] == "open":
            out["status"] = "assigned"
            out["next_due"], out["next_warn"] = out["verify_due"], out["verify_warn"]
        else:
            out["decision_text"] = "经核查，证据确凿，移送立案" if opened else "经核查，未发现违法行为，不予立案"
        if out["verify_due"] is None:
            out["clock_note"] = "工作日历缺少下一年数据，期限暂无法计算"
        return out
    out["accept_due"] = clk.due(rule, "accept", received)
    out["accept_warn"] = clk.warn(rule, "accept", received)
    if odr:
        out["odr_due"] = clk.due(rule, "odr", received)
        if rng.random() < 0.5:
            settled = clk.add_wd(received, int(rng.integers(1, 7)))
            close(settled, "odr_settled", out["accept_due"])
            if out["status"] == "closed":
                out["amount_recovered"] = round(float(rng.lognormal(5.3, 0.9)), 2)
                return out
            out.update(status="odr", next_due=out["accept_due"], next_warn=out["accept_warn"])
            return out
    late = rng.random() < 0.06
    decided = clk.add_wd(received, int(rng.integers(8, 14)) if late else int(rng.integers(1, 7)))
    if stuck and rng.random() < 0.5:
        decided = None
    if decided is None or decided >= today:
        out.update(status="assigned", result="", next_due=out["accept_due"], next_warn=out["accept_warn"],
                   final_due=out["accept_due"])
        return out
    if rng.random() < (0.6 if professional else 0.22):
        codes = [g.code for g in rule.rejection_grounds]
        ground = codes[2] if professional else codes[int(rng.choice(len(codes), p=_reject_p(len(codes))))]
        g = rule.rejection_ground(ground)
        out.update(decision_ground=ground,
                   decision_text=f"依据{g.article}，决定不予受理。{rule.remedies_text}" if g else "")
        close(decided, "rejected", out["accept_due"])
        return out
    out["accepted_on"] = decided
    out["mediation_due"] = clk.due(rule, "mediation", decided)
    out["mediation_warn"] = clk.warn(rule, "mediation", decided)
    r = rng.random()
    length = int(rng.integers(1, 30)) if r < 0.7 else int(rng.integers(30, 60)) if r < 0.93 else int(
        rng.integers(61, 80))
    ended = decided + dt.timedelta(days=400 if stuck else length)
    if ended >= today:
        out.update(status="mediating", next_due=out["mediation_due"], next_warn=out["mediation_warn"],
                   final_due=out["mediation_due"])
        if out["mediation_due"] is None:
            out["clock_note"] = "工作日历缺少下一年数据，期限暂无法计算"
        return out
    if rng.random() < 0.65:
        out["amount_recovered"] = round(float(rng.lognormal(5.5, 1.0)), 2)
        out["decision_text"] = "双方达成调解协议"
        close(ended, "agreement", out["mediation_due"])
        return out
    codes = [g.code for g in rule.termination_grounds]
    out["decision_ground"] = codes[2]
    out["decision_text"] = "经组织调解，双方无法达成调解协议，终止调解。"
    out["notice_due"] = clk.due(rule, "termination_notice", ended)
    notified = clk.add_wd(ended, int(rng.integers(1, 7)) if rng.random() < 0.95 else int(rng.integers(8, 12)))
    close(notified, "terminated", out["notice_due"])
    if out["status"] == "open":
        out.update(status="terminated", result="terminated", next_due=out["notice_due"], next_warn=out["notice_due"])
    return out


def _reject_p(n: int) -> np.ndarray:
    w = np.ones(n)
    w[0], w[2], w[4] = 4, 3, 3
    return w / w.sum()


SCHEMA: dict[str, Any] = {
    "tracking_number": pl.String, "external_ref": pl.String, "kind": pl.String, "channel": pl.String,
    "status": pl.String, "result": pl.String, "received_at": pl.Datetime("us", "UTC"), "received_on": pl.Date,
    "rule_code": pl.String, "complainant_name": pl.String, "complainant_phone": pl.String,
    "complainant_address": pl.String, "respondent_name": pl.String, "respondent_address": pl.String,
    "respondent_uscc": pl.String, "entity_id": pl.Int64, "division_code": pl.String, "industry_code": pl.String,
    "request": pl.String, "facts": pl.String, "category": pl.String, "category_suggested": pl.String,
    "quantity": pl.Int64, "amount_claimed": pl.Float64, "intake_unit_id": pl.Int64, "unit_id": pl.Int64,
    "suggested_unit_code": pl.String, "routing_note": pl.String, "accept_due": pl.Date, "accept_warn": pl.Date,
    "odr_due": pl.Date, "accepted_on": pl.Date, "mediation_due": pl.Date, "mediation_warn": pl.Date,
    "notice_due": pl.Date, "verify_start": pl.Date, "verify_due": pl.Date, "verify_warn": pl.Date,
    "next_due": pl.Date, "next_warn": pl.Date, "final_due": pl.Date, "clock_note": pl.String,
    "decision_ground": pl.String, "decision_text": pl.String, "amount_recovered": pl.Float64,
    "closed_on": pl.Date, "flag_count": pl.Int64,
}
COLUMNS = list(SCHEMA)


class _Sink:
    """Parquet under ctx.out_dir, or the database in bulk (COPY on PostgreSQL) with one audit entry."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.count = 0
        self.frames: list[pl.DataFrame] = []
        self._atomic: Any = None
        self.first_id = 0
        self.first_ext = 0

    def __enter__(self) -> _Sink:
        if self.ctx.load:
            from django.db import transaction
            from django.db.models import Max

            from jianguan.complaints.models import Case, Extension

            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self.first_id = int(Case.objects.aggregate(m=Max("id"))["m"] or 0)
            self.first_ext = int(Extension.objects.aggregate(m=Max("id"))["m"] or 0)
        return self

    def write(self, frame: pl.DataFrame, extensions: list[tuple[int, int, str]]) -> None:
        frame = frame.with_columns(pl.col("status").replace({"open": "assigned"}))
        frame = frame.with_columns(
            pl.when(pl.col("status") == "closed").then(pl.col("closed_on").cast(pl.Datetime("us", "UTC"))
                                                       + pl.duration(hours=9)).otherwise(None).alias("closed_at"))
        self.count += frame.height
        if not self.ctx.load:
            self.frames.append(frame)
            return
        from jianguan.complaints.models import Case, Extension

        _copy(Case, frame)
        if extensions:
            ext = pl.DataFrame({"case_id": [i + 1 for i, _d, _r in extensions],
                                "days": [d for _i, d, _r in extensions], "reason": [r for _i, _d, r in extensions]})
            ext = ext.with_columns(pl.lit("verify").alias("period"), pl.lit("approved").alias("status"))
            ext = ext.with_columns(pl.Series("id", range(self.first_ext + 1, self.first_ext + 1 + ext.height)))
            self.first_ext += ext.height
            _copy(Extension, ext)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.ctx.load:
            if exc_type is None and self.frames and self.ctx.out_dir is not None:
                self.ctx.out_dir.mkdir(parents=True, exist_ok=True)
                pl.concat(self.frames).write_parquet(self.ctx.out_dir / "complaints.parquet", compression="zstd")
            return
        if exc_type is None:
            from django.db import connection

            from jianguan.complaints.models import Case, Extension
            from jianguan.core.audit import AuditEvent, audit_record_many

            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    for model in (Case, Extension):
                        t = model._meta.db_table
                        cur.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
                                    f"GREATEST((SELECT MAX(id) FROM {t}), 1))", [t])
            audit_record_many([AuditEvent(action="synth_load", object_type="complaints.case", object_id="synth",
                                          object_repr=f"合成数据：投诉举报 {self.count} 件",
                                          after={"count": self.count, "seed": self.ctx.seed},
                                          reason="载入合成数据（synth --load）")])
        self._atomic.__exit__(exc_type, exc, tb)
        if exc_type is None:
            from django.db import connection

            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    cur.execute("ANALYZE complaints_case")


def _copy(model: Any, frame: pl.DataFrame) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany on SQLite; missing columns get their model defaults."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    cols, exprs = [], []
    for field in model._meta.concrete_fields:
        cols.append(field.column)
        if field.attname in frame.columns:
            exprs.append(pl.col(field.attname))
        elif getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            exprs.append(pl.lit(now).alias(field.attname))
        elif field.has_default():
            exprs.append(pl.lit(field.get_default()).alias(field.attname))
        elif field.null:
            exprs.append(pl.lit(None).alias(field.attname))
        else:
            exprs.append(pl.lit("").alias(field.attname))
    out = frame.select(exprs)
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(c) for c in cols)
    if connection.vendor == "postgresql":
        buf = io.BytesIO()
        out.write_csv(buf, include_header=False, quote_style="non_numeric", null_value="")
        with connection.cursor() as cur, cur.cursor.copy(
                f"COPY {table} ({quoted}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getvalue())
        return
    dt_cols = [c for c, t in out.schema.items() if isinstance(t, pl.Datetime)]
    out = out.with_columns([pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S") for c in dt_cols])
    marks = ", ".join(["%s"] * len(cols))
    with connection.cursor() as cur:
        for part in out.iter_slices(20_000):
            cur.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", part.rows())  # noqa: S608


__all__ = ["CATEGORY_LABELS", "generate"]
