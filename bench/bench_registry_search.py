"""Benchmark of registry search at city scale on PostgreSQL: p50/p95 of staff and public searches.

    python bench/bench_registry_search.py                        # 1,300,000 entities, 200 requests per kind
    python bench/bench_registry_search.py --entities 300000 --requests 100
    python bench/bench_registry_search.py --database-url postgresql://postgres@127.0.0.1:5432/jianguan_bench

Loads N entities (a city: the current counties of Jinan, 3701xx) into a dedicated PostgreSQL database with COPY —
valid USCCs from ``make_uscc``, Chinese names built from 字号 + industry word + organisation form — plus labels
and food licences, unless the database already holds exactly N entities (``--reload`` forces a fresh load).
Then times requests through Django's test Client as a logged-in city-level handler (every request goes through
middleware, the data scope, the selector and the template) and prints one line per kind:

    registry_search.<kind> n=… p50_ms=… p95_ms=… max_ms=… entities=…

Kinds: ``uscc`` (a full code in the staff list), ``name3`` (the 字号 of a real name plus 1-2 characters),
``name2`` (a two-character 字号), ``name_common`` (words found in a large share of names: 有限公司, 百货 …),
``filtered`` (a filtered list page: division + status + industry section or
label or licence, page 1-3), ``public_uscc`` / ``public_name3`` (the portal search), ``api_filtered`` (the REST
API list), ``detail`` (the entity page with its tabs), ``unfiltered`` (the list with no filter, pages 1-49) and
``home_cards`` (the registry's counts on the home page, called directly, requests / 10 times), ``baseline``
(a tiny staff page: what middleware, sessions, menu and layout cost on this machine) and ``db_*`` (the same
searches through the form and selector alone, without middleware or template).
Target: p95 ≤ 100 ms for uscc, name and filtered lists.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/jianguan_bench"
CITY = "3701"  # 济南市

try:  # the synthetic-data vocabulary, when present (pure data)
    from jianguan.synth.names import SURNAMES as _SURNAMES
    from jianguan.synth.names import ZIHAO as _ZIHAO

    ZIHAO = list(_ZIHAO)
    SURNAMES = [s for s, _ in _SURNAMES]
    SURNAME_WEIGHTS = [w for _, w in _SURNAMES]
except ImportError:  # pragma: no cover - standalone fallback
    ZIHAO = ["鑫源", "华泰", "恒信", "金海", "宏达", "永盛", "瑞丰", "隆昌", "嘉禾",
             "盛世", "鼎盛", "汇通", "昌盛", "荣华", "富源", "万通", "兴隆", "天成"]
    SURNAMES = list("王张李刘孙陈杨赵徐于马高周")
    SURNAME_WEIGHTS = [1] * len(SURNAMES)

GIVEN = list("建国军伟强磊洋勇杰涛明超华平刚静丽敏燕艳娟霞芳玲红梅秀英兰凤萍宁")
# (industry class, weight, word in the name) — common classes of a city's register.
INDUSTRIES = [
    ("5211", 10, "百货"), ("5212", 8, "超市"), ("5221", 5, "食品"), ("5223", 3, "果品"), ("5123", 4, "商贸"),
    ("6210", 8, "饭店"), ("6220", 6, "快餐"), ("6241", 1, "食堂"), ("6231", 2, "茶社"), ("5251", 2, "药店"),
    ("8040", 4, "美容美发"), ("8051", 2, "洗浴"), ("8010", 3, "家政"), ("7212", 3, "投资咨询"),
    ("6513", 3, "软件科技"), ("4813", 2, "建筑工程"), ("5412", 3, "物流"), ("7010", 2, "房地产"),
    ("1391", 1, "食品加工"), ("3311", 1, "金属制品"), ("5261", 3, "汽车销售"), ("7020", 2, "物业"),
    ("0111", 1, "种植"), ("0311", 1, "养殖"), ("5164", 2, "建材"),
]
FORMS_ENTERPRISE = ["有限公司", "有限公司", "有限责任公司", "股份有限公司", "有限公司分公司"]
SHOPS = ["店", "商店", "经营部", "馆", "中心", "门市部", "超市"]
STATUSES = [("active", 85), ("suspended", 3), ("revoked", 4), ("cancelled", 7), ("moved_out", 1)]
KINDS = [("individual", 64), ("enterprise", 34), ("cooperative", 2)]
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["JIANGUAN_DEBUG"] = "0"  # DEBUG keeps every query in memory; production does not
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")
    import django

    django.setup()


def _org_body(n: int) -> str:
    digits = []
    for _ in range(7):
        n, r = divmod(n, len(ALPHABET))
        digits.append(ALPHABET[r])
    return "M" + "".join(reversed(digits))


def _weighted(pairs: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def load(n: int, seed: int) -> None:
    """Replace the registry with n synthetic entities of one city, plus labels and licences, using COPY."""
    from django.db import connection

    from jianguan.core.models import Division
    from jianguan.registry.domain.uscc import make_uscc
    from jianguan.registry.models import Label

    name_indexes = [__import__(f"jianguan.registry.migrations.{m}", fromlist=["CREATE", "DROP"])
                    for m in ("0005_search_indexes_city_scale", "0006_filtered_list_merge_indexes")]
    rng = random.Random(seed)
    counties = list(Division.objects.filter(code__startswith=CITY, level="county", current=True)
                    .values_list("code", "name"))
    county_weights = [3 if name.endswith("区") else 2 for _, name in counties]
    ind_codes = [i[0] for i in INDUSTRIES]
    ind_weights = [i[1] for i in INDUSTRIES]
    ind_word = {i[0]: i[2] for i in INDUSTRIES}
    statuses, status_w = _weighted(STATUSES)
    kinds, kind_w = _weighted(KINDS)
    type_code = {"enterprise": "1", "individual": "2", "cooperative": "3"}
    from itertools import accumulate

    county_cw, ind_cw, status_cw, kind_cw, surname_cw = (list(accumulate(w)) for w in (
        county_weights, ind_weights, status_w, kind_w, SURNAME_WEIGHTS))
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    cols = ("uscc", "name", "kind", "subtype", "status", "status_date", "registration_authority", "division_id",
            "street", "road", "house_number", "address", "industry_id", "established_on", "registered_capital",
            "legal_representative", "business_scope", "phone", "is_ecommerce_platform", "odr_enabled",
            "created_at", "updated_at")
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE registry_entity, registry_entitylabel, registry_licence, registry_premises, "
                    "registry_annualreport RESTART IDENTITY CASCADE")
        for module in name_indexes:  # built once after the load: much faster than maintained row by row
            for sql in module.DROP:
                cur.execute(sql)
        with cur.cursor.copy(f"COPY registry_entity ({', '.join(cols)}) FROM STDIN") as copy:
            for i in range(n):
                division, dname = rng.choices(counties, cum_weights=county_cw)[0]
                kind = rng.choices(kinds, cum_weights=kind_cw)[0]
                industry = rng.choices(ind_codes, cum_weights=ind_cw)[0]
                zihao = rng.choice(ZIHAO)
                person = rng.choices(SURNAMES, cum_weights=surname_cw)[0] + rng.choice(GIVEN) + \
                    (rng.choice(GIVEN) if rng.random() < 0.7 else "")
                if kind == "individual":
                    name = f"{dname}{zihao}{ind_word[industry]}{rng.choice(SHOPS)}"
                    subtype = ""
                elif kind == "cooperative":
                    name = f"济南市{dname}{zihao}{ind_word[industry]}专业合作社"
                    subtype = "农民专业合作社"
                else:
                    form = rng.choice(FORMS_ENTERPRISE)
                    prefix = rng.choice(["济南", "山东", f"济南市{dname}"])
                    name = f"{prefix}{zihao}{ind_word[industry]}{form}"
                    subtype = "分公司" if form.endswith("分公司") else form
                status = rng.choices(statuses, cum_weights=status_cw)[0]
                established = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randrange(11_200))
                house = rng.randrange(1, 999)
                copy.write_row((
                    make_uscc("9", type_code[kind], division, _org_body(i + 1)), name, kind, subtype, status,
                    None if status == "active" else established + dt.timedelta(days=rng.randrange(30, 2000)),
                    f"济南市{dname}市场监督管理局", division, "街道", "经十路", f"{house}号",
                    f"山东省济南市{dname}经十路{house}号", industry, established,
                    None if kind == "individual" else rng.choice([10, 50, 100, 200, 500, 1000]),
                    person, f"{ind_word[industry]}经营", f"1{rng.randrange(30, 99)}{rng.randrange(10**8):08d}",
                    False, rng.random() < 0.01, now, now))
        t_copy = time.perf_counter() - t0
        catering = Label.objects.get(code="catering").pk
        food = Label.objects.get(code="food_business").pk
        cur.execute("INSERT INTO registry_entitylabel (entity_id, label_id, source, assigned_on) "
                    "SELECT id, %s, 'rule', DATE '2024-01-01' FROM registry_entity WHERE industry_id LIKE '62%%'",
                    [catering])
        cur.execute("INSERT INTO registry_licence (entity_id, type, number, issuer, valid_from, valid_to, status) "
                    "SELECT id, 'food_business', 'JY' || lpad(id::text, 14, '0'), '济南市市场监督管理局', "
                    "established_on, established_on + 1826, "
                    "CASE WHEN mod(id, 10) = 0 THEN 'expired' ELSE 'valid' END "
                    "FROM registry_entity WHERE industry_id LIKE '62%' OR industry_id IN ('5221', '5212', '1391')")
        cur.execute("INSERT INTO registry_entitylabel (entity_id, label_id, source, assigned_on) "
                    "SELECT DISTINCT entity_id, %s, 'rule', DATE '2024-01-01' FROM registry_licence", [food])
        t_index = []
        for module in name_indexes:
            t1 = time.perf_counter()
            for sql in module.CREATE:
                cur.execute(sql)
            t_index.append(time.perf_counter() - t1)
        for table in ("registry_entity", "registry_entitylabel", "registry_licence"):
            # VACUUM sets the visibility map (index-only scans), as autovacuum does after a real import.
            cur.execute(f"VACUUM ANALYZE {table}")
    print(f"registry_search.load entities={n} copy_s={t_copy:.1f} "
          f"bigram_and_list_indexes_s={t_index[0]:.1f} filter_merge_indexes_s={t_index[1]:.1f} "
          f"total_s={time.perf_counter() - t0:.1f}", flush=True)


def city_user():  # type: ignore[no-untyped-def]
    from jianguan.core.models import Department, Division, Unit, User
    from jianguan.core.services import user_create

    user = User.objects.filter(username="bench-city-handler").first()
    if user is not None:
        return user
    unit = Unit.objects.create(code="bench-3701-samr", name="济南市市场监督管理局", kind="bureau",
                               division=Division.objects.get(code=f"{CITY}00"),
                               department=Department.objects.get(code="samr"))
    return user_create("bench-city-handler", "Bench-password-42", full_name="基准测试", unit=unit,
                       roles=[("handler", "subtree")])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def backend_cpu_s() -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving Django's connection (local server only)."""
    from django.db import connection

    raw = getattr(connection, "connection", None)
    pid = getattr(getattr(raw, "info", None), "backend_pid", None)
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def timed(name: str, requests: list[Callable[[], object]], entities: int) -> None:
    """p50/p95 of wall time, and of CPU time: this process plus its PostgreSQL backend (on a loaded machine the
    CPU time is the honest figure; parallel-query workers, if any, are not included)."""
    for fn in requests[:5]:  # warm the connection and the plan cache
        fn()
    times, cpus = [], []
    for fn in requests:
        b0 = backend_cpu_s()
        c, t = time.process_time(), time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        b1 = backend_cpu_s()
        if b0 is not None and b1 is not None and b1 >= b0:
            cpus.append((time.process_time() - c + b1 - b0) * 1000)
    cpu = (f" cpu_p50_ms={statistics.median(cpus):.1f} cpu_p95_ms={percentile(cpus, 95):.1f}"
           if len(cpus) > len(times) // 2 else "")
    print(f"registry_search.{name} n={len(times)} p50_ms={statistics.median(times):.1f} "
          f"p95_ms={percentile(times, 95):.1f} max_ms={max(times):.1f}{cpu} entities={entities}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    ap.add_argument("--entities", type=int, default=1_300_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--reload", action="store_true", help="load fresh data even if the count matches")
    ap.add_argument("--only", default="", help="comma-separated kinds to run")
    ap.add_argument("--no-parallel", action="store_true",
                    help="no parallel-query workers, so the backend's CPU time is the whole server cost")
    args = ap.parse_args()
    if not args.database_url.startswith("postgres"):
        print("registry_search.skipped reason=needs_postgresql", flush=True)
        return 0
    _setup(args.database_url)

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from jianguan.registry.models import Entity

    call_command("migrate", verbosity=0)
    if args.no_parallel:
        from django.db.backends.signals import connection_created

        def serial(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
            with connection.cursor() as cur:
                cur.execute("SET max_parallel_workers_per_gather = 0")

        connection_created.connect(serial, weak=False)
        connection.close()
    with connection.cursor() as cur:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'registry_entity'")
        estimate = cur.fetchone()[0]
    if args.reload or abs(estimate - args.entities) > args.entities * 0.01 or \
            Entity.objects.count() != args.entities:
        load(args.entities, args.seed)
    n = Entity.objects.count()

    rng = random.Random(args.seed + 1)
    with connection.cursor() as cur:  # random ids are cheaper than ORDER BY random() on 1.3 M rows
        cur.execute("SELECT max(id) FROM registry_entity")
        max_id = cur.fetchone()[0]
    ids = [rng.randrange(1, max_id + 1) for _ in range(args.requests * 2)]
    sample = list(Entity.objects.filter(id__in=ids).values_list("uscc", "name", "division_id"))[: args.requests]
    counties = sorted({d for _, _, d in sample})

    def substring(name: str) -> str:
        """What a person types: the 字号 of a real name and the next one or two characters ("鑫源百货")."""
        for zihao in ZIHAO:
            at = name.find(zihao)
            if at >= 0:
                return name[at: at + rng.choice([3, 4])]
        return name[-4:]

    common = ["有限公司", "商贸有限", "百货", "饭店", "历下区", "超市", "科技", "有限责任"]

    client = Client()
    client.force_login(city_user())
    public = Client()
    staff_list = "/staff/registry/entities/"
    api_list = "/api/v1/registry/entities"

    def get(c: Client, url: str, params: dict[str, str] | None = None) -> Callable[[], object]:
        def call() -> object:
            response = c.get(url, params or {})
            if response.status_code != 200:
                raise SystemExit(f"{url} {params} -> {response.status_code}")
            return response
        return call

    def filtered_params() -> dict[str, str]:
        params = {"division": rng.choice(counties), "status": rng.choice(["active", "active", "cancelled"]),
                  "page": str(rng.choice([1, 1, 2, 3]))}
        extra = rng.choice(["section", "class", "label", "licence", "kind"])
        if extra == "section":
            params["industry"] = rng.choice(["F", "H", "O", "I"])
        elif extra == "class":
            params["industry"] = rng.choice([i[0] for i in INDUSTRIES])
        elif extra == "label":
            params["label"] = rng.choice(["catering", "food_business"])
        elif extra == "licence":
            params["licence"] = "food_business"
        else:
            params["kind"] = rng.choice(["enterprise", "individual"])
        return params

    kinds: dict[str, list[Callable[[], object]]] = {
        "uscc": [get(client, staff_list, {"q": u}) for u, _, _ in sample],
        "name3": [get(client, staff_list, {"q": substring(nm)}) for _, nm, _ in sample],
        "name2": [get(client, staff_list, {"q": rng.choice(ZIHAO)}) for _ in sample],
        "name_common": [get(client, staff_list, {"q": rng.choice(common), "page": str(rng.choice([1, 2, 3]))})
                        for _ in sample],
        "filtered": [get(client, staff_list, filtered_params()) for _ in sample],
        "public_uscc": [get(public, "/enterprises/", {"q": u}) for u, _, _ in sample],
        "public_name3": [get(public, "/enterprises/", {"q": substring(nm)}) for _, nm, _ in sample],
        "api_filtered": [get(client, api_list, filtered_params()) for _ in sample],
        "detail": [get(client, f"{staff_list}{u}/") for u, _, _ in sample],
        "unfiltered": [get(client, staff_list, {"page": str(rng.randrange(1, 50))}) for _ in sample],
    }
    from django.apps import apps

    from jianguan.registry.forms import EntitySearchForm
    from jianguan.registry.selectors import entity_search_page, entity_search_public

    def selector(params: dict[str, str]) -> Callable[[], object]:
        """The query part alone: form validation + scoped search + capped page (no middleware, no template)."""
        def call() -> object:
            form = EntitySearchForm(params, user=bench_user)
            if not form.is_valid():
                raise SystemExit(f"{params} -> {form.errors}")
            return entity_search_page(bench_user, form.filters(), params.get("page", 1)).items
        return call

    bench_user = city_user()
    kinds["baseline"] = [get(client, "/staff/units/") for _ in sample]  # a tiny staff page: the fixed cost
    kinds["db_uscc"] = [selector({"q": u}) for u, _, _ in sample]
    kinds["db_name3"] = [selector({"q": substring(nm)}) for _, nm, _ in sample]
    kinds["db_name2"] = [selector({"q": rng.choice(ZIHAO)}) for _ in sample]
    kinds["db_name_common"] = [selector({"q": rng.choice(common)}) for _ in sample]
    kinds["db_filtered"] = [selector(filtered_params()) for _ in sample]
    kinds["db_public_name3"] = [partial(entity_search_public, substring(nm)) for _, nm, _ in sample]
    registry_config = apps.get_app_config("registry")
    kinds["home_cards"] = [lambda: registry_config.home_cards(bench_user)] * max(5, args.requests // 10)
    only = {k for k in args.only.split(",") if k}
    for name, requests in kinds.items():
        if not only or name in only:
            timed(name, requests, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
