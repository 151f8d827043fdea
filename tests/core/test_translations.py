"""The English catalogue: complete, placeholder-safe, compiled, and served (cookie, Accept-Language, switch)."""

from __future__ import annotations

import ast
import gettext
import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import create_user

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "jianguan"
PO = PACKAGE / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
HOW_TO_FIX = ('cd src/jianguan && ../../.venv/bin/jianguan makemessages -l en --ignore "static/vendor/*", '
              "translate the new entries in locale/en/LC_MESSAGES/django.po (delete obsolete #~ ones), "
              "then ../../.venv/bin/jianguan compilemessages")

CJK = re.compile(r"[\u3400-\u9fff]")
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%%|%[sdifr]|\{\{\s*[\w.]+\s*\}\}|\{\w*\}")
_KEYWORD = re.compile(r'^(#~ )?(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?) ("(?:[^"\\]|\\.)*")$')
_CONTINUATION = re.compile(r'^(#~ )?("(?:[^"\\]|\\.)*")$')


def _unquote(literal: str) -> str:
    return ast.literal_eval(literal)


def parse_po(path: Path) -> list[dict]:
    """A small PO reader: entries with msgctxt, msgid, msgid_plural, msgstr (dict by plural index), flags, obsolete."""
    entries: list[dict] = []
    entry: dict | None = None
    field: tuple | None = None

    def new_entry() -> dict:
        return {"flags": set(), "obsolete": False, "msgstr": {}, "line": lineno}

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip()
        keyword = _KEYWORD.match(line)
        continuation = _CONTINUATION.match(line)
        starts_entry = (keyword and keyword.group(2) in ("msgctxt", "msgid")) or (
            line.startswith("#") and not continuation and not keyword)
        if entry is not None and entry["msgstr"] and (not line or starts_entry):
            entries.append(entry)
            entry = None
        if not line:
            continue
        if entry is None:
            entry = new_entry()
        if keyword:
            entry["obsolete"] |= bool(keyword.group(1))
            name, index, value = keyword.group(2), keyword.group(3), _unquote(keyword.group(4))
            field = ("msgstr", int(index or 0)) if name.startswith("msgstr") else (name,)
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] = value
            else:
                entry[name] = value
        elif continuation:
            value = _unquote(continuation.group(2))
            assert field is not None, f"{path}:{lineno}: string continuation outside an entry"
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += value
            else:
                entry[field[0]] += value
        elif line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#~"):
            entry["obsolete"] = True
        elif not line.startswith("#"):
            raise AssertionError(f"{path}:{lineno}: cannot read {line!r}")
    if entry is not None and "msgid" in entry:
        entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    return [e for e in parse_po(PO) if e["msgid"] != ""]


def _where(entry: dict) -> str:
    return f"{PO.name}:{entry['line']} {entry['msgid'][:40]!r}"


def test_the_po_reader_understands_plurals_continuations_flags_and_obsolete_entries(tmp_path):
    sample = tmp_path / "sample.po"
    sample.write_text(
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid "共 %(n)s 条"\nmsgstr "%(n)s "\n"results"\n'
        '#: a.py:2\nmsgid "一项"\nmsgid_plural "多项"\nmsgstr[0] "one \\"item\\""\nmsgstr[1] "items"\n\n'
        '#~ msgid "旧"\n#~ msgstr "old"\n', encoding="utf-8")
    header, counted, plural, old = parse_po(sample)
    assert header["msgstr"][0] == "Language: en\n"
    assert counted["msgstr"][0] == "%(n)s results" and counted["flags"] == {"fuzzy", "python-format"}
    assert plural["msgid_plural"] == "多项" and plural["msgstr"] == {0: 'one "item"', 1: "items"}
    assert old["obsolete"] and old["msgid"] == "旧" and not counted["obsolete"]


def test_the_catalogue_covers_every_app(catalogue):
    text = PO.read_text(encoding="utf-8")
    for app in ("core", "registry", "credit", "inspections", "complaints", "portal", "templates/base.html"):
        assert f"#: {app}" in text or f" {app}" in text, f"no strings extracted from {app}; {HOW_TO_FIX}"
    assert len(catalogue) > 500


def test_every_entry_is_translated_and_none_is_fuzzy_or_obsolete(catalogue):
    untranslated = [_where(e) for e in catalogue if not e["obsolete"] and not all(e["msgstr"].values())]
    fuzzy = [_where(e) for e in catalogue if "fuzzy" in e["flags"]]
    obsolete = [_where(e) for e in catalogue if e["obsolete"]]
    assert not untranslated, f"untranslated: {untranslated[:20]}; {HOW_TO_FIX}"
    assert not fuzzy, f"fuzzy (check and remove the flag): {fuzzy[:20]}"
    assert not obsolete, f"obsolete #~ entries (delete them): {obsolete[:20]}"


def test_translations_are_english_not_copies_of_the_chinese(catalogue):
    # some English texts quote Chinese column headers or examples, but none may be mostly Chinese
    still_chinese = [_where(e) for e in catalogue for text in e["msgstr"].values()
                     if text == e["msgid"] or len(CJK.findall(text)) > len(text) / 3]
    assert not still_chinese, f"msgstr is mostly Chinese: {still_chinese[:20]}"


def test_placeholders_in_each_translation_match_the_chinese(catalogue):
    mismatched = []
    for e in catalogue:
        expected = Counter(PLACEHOLDER.findall(e["msgid"]))
        plural_expected = Counter(PLACEHOLDER.findall(e.get("msgid_plural", e["msgid"])))
        for index, text in e["msgstr"].items():
            found = Counter(PLACEHOLDER.findall(text))
            # a singular form may drop the count ("one item"), but never invent or misspell a placeholder
            allowed = expected | plural_expected
            ok = found == (plural_expected if index else expected) or (
                "msgid_plural" in e and index == 0 and not found - allowed)
            if not ok:
                mismatched.append(f"{_where(e)}[{index}]: {sorted(expected)} → {sorted(found)}")
    assert not mismatched, mismatched[:20]


def test_the_compiled_catalogue_matches_the_po_file(catalogue):
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in catalogue:
        context = f"{e['msgctxt']}\x04" if "msgctxt" in e else ""
        if "msgid_plural" in e:
            got = [compiled.ngettext(e["msgid"], e["msgid_plural"], n) for n in (1, 2)]
            want = [e["msgstr"][0], e["msgstr"][1]]
            if context:
                got = [compiled.npgettext(e["msgctxt"], e["msgid"], e["msgid_plural"], n) for n in (1, 2)]
        else:
            got = [compiled.pgettext(e["msgctxt"], e["msgid"]) if context else compiled.gettext(e["msgid"])]
            want = [e["msgstr"][0]]
        if got != want:
            stale.append(_where(e))
    assert not stale, f"django.mo is older than django.po ({len(stale)} entries, e.g. {stale[:5]}); run compilemessages"


_TEMPLATE_LITERAL = re.compile(r"""\{%\s*(?:translate|trans)\s+(["'])(.*?)\1(?P<rest>[^%]*)%\}""")
_PYTHON_LITERAL = re.compile(r"""\b(?:_|gettext|gettext_lazy)\(\s*(["'])([^"'\n]*?)\1\s*\)""")


def _literals_in_source() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in PACKAGE.rglob("*"):
        if "vendor" in path.parts or "migrations" in path.parts or not path.is_file():
            continue
        if path.suffix == ".html":
            for match in _TEMPLATE_LITERAL.finditer(path.read_text(encoding="utf-8")):
                if "context" not in match.group("rest"):  # the translate tag doubles % in the msgid
                    found.setdefault(match.group(2).replace("%", "%%"), str(path.relative_to(PACKAGE)))
        elif path.suffix == ".py":
            for match in _PYTHON_LITERAL.finditer(path.read_text(encoding="utf-8")):
                found.setdefault(match.group(2), str(path.relative_to(PACKAGE)))
    return {text: where for text, where in found.items() if CJK.search(text)}


def test_every_marked_chinese_string_in_the_source_is_in_the_catalogue(catalogue):
    known = {e["msgid"] for e in catalogue}
    missing = {text: where for text, where in _literals_in_source().items() if text not in known}
    assert not missing, f"{len(missing)} strings not extracted yet, e.g. {list(missing.items())[:10]}; {HOW_TO_FIX}"


# ---------------------------------------------------------------------------------------------- served pages


@pytest.mark.parametrize("how", ["cookie", "accept-language"])
def test_the_login_page_is_english_when_asked_for_english(client, db, how):
    if how == "cookie":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        response = client.get("/staff/login/")
    else:
        response = client.get("/staff/login/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="en">' in body
    assert "Staff sign in" in body and "Sign in</button>" in body and "Username" in body and "Password" in body
    for chinese in ("工作人员登录", "登录", "用户名", "密码", "市场监管公众服务平台"):
        assert chinese not in body
    # the only Chinese left on the page is the switch back to Chinese
    assert CJK.findall(body) == list("中文")


def test_a_wrong_password_is_explained_in_english_to_an_english_user(client, org):
    create_user(unit=org.wendeng, username="wang")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post("/staff/login/", {"username": "wang", "password": "wrong-password"})
    body = response.content.decode()
    assert "Incorrect username or password" in body and "用户名或密码错误" not in body


def test_the_login_page_is_chinese_by_default(client, db):
    body = client.get("/staff/login/").content.decode()
    assert '<html lang="zh-hans">' in body
    assert "工作人员登录" in body and "用户名" in body
    assert "Staff sign in" not in body and "Username" not in body


def test_the_portal_home_page_is_english_when_asked_for_english(client, db):
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Market Regulation Public Service Platform" in english
    assert "市场监管公众服务平台" not in english and "消费投诉举报热线" not in english
    assert CJK.findall(english) == list("中文")
    chinese = client.get("/").content.decode()
    assert "市场监管公众服务平台" in chinese and "Market Regulation Public Service Platform" not in chinese


def test_the_workbench_is_english_for_a_signed_in_english_user(client, org):
    client.force_login(create_user(unit=org.wendeng))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = client.get("/staff/").content.decode()
    assert "Workbench" in body and "Sign out" in body
    assert "工作台" not in body and "退出" not in body
    assert "Jurisdiction: " in body and "Jurisdiction：" not in body  # a label's colon in the reader's language


def test_a_label_keeps_the_chinese_colon_for_a_chinese_reader(client, org):
    client.force_login(create_user(unit=org.wendeng))
    assert "辖区：" in client.get("/staff/").content.decode()


def test_the_language_switch_makes_the_next_page_english_and_back(client, db):
    assert "工作人员登录" in client.get("/staff/login/").content.decode()
    assert 'action="/i18n/setlang/"' in client.get("/staff/login/").content.decode()

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/staff/login/"})
    assert response.status_code == 302 and response["Location"] == "/staff/login/"
    body = client.get("/staff/login/").content.decode()
    assert "Staff sign in" in body and "工作人员登录" not in body
    assert 'name="language" value="zh-hans"' in body  # the switch now offers Chinese

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "工作人员登录" in client.get("/staff/login/").content.decode()


def test_the_language_switch_ignores_an_unknown_language_and_an_offsite_next(client, db):
    response = client.post("/i18n/setlang/", {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]
    assert "工作人员登录" in client.get("/staff/login/").content.decode()


# ------------------------------------------------------------------------------------- the chart scripts' catalogue

JS_PO = PACKAGE / "locale" / "en" / "LC_MESSAGES" / "djangojs.po"
_JS_LITERAL = re.compile(r"""\bgettext\(\s*"([^"\n]+)"\s*\)""")
JS_HOW_TO_FIX = ("cd src/jianguan && ../../.venv/bin/jianguan makemessages -d djangojs -l en "
                 "--ignore 'static/vendor/*', "
                 "translate locale/en/LC_MESSAGES/djangojs.po, then ../../.venv/bin/jianguan compilemessages")


def test_every_chart_label_in_the_scripts_is_translated_and_compiled():
    entries = [e for e in parse_po(JS_PO) if e["msgid"] != ""]
    known = {e["msgid"]: e["msgstr"][0] for e in entries if not e["obsolete"] and "fuzzy" not in e["flags"]}
    scripts = [p for p in (PACKAGE / "static" / "js").glob("*.js")]
    used = {text: p.name for p in scripts for text in _JS_LITERAL.findall(p.read_text(encoding="utf-8"))}
    assert used, "no gettext() call found in static/js — the scripts' labels would be Chinese only"
    missing = {text: where for text, where in used.items() if not known.get(text)}
    assert not missing, f"chart labels without an English translation: {missing}; {JS_HOW_TO_FIX}"
    with JS_PO.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [text for text in used if compiled.gettext(text) != known[text]]
    assert not stale, f"djangojs.mo is older than djangojs.po: {stale}; run compilemessages"
    # every Chinese literal in a script goes through gettext (data values come from the server, already translated)
    bare = [(p.name, line.strip()) for p in scripts for line in p.read_text(encoding="utf-8").splitlines()
            if CJK.search(_JS_LITERAL.sub("", line)) and not line.strip().startswith("//")]
    assert not bare, f"Chinese text outside gettext() in the scripts: {bare}"


def test_the_javascript_catalogue_is_served_in_the_visitors_language(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/jsi18n/")
    assert english.status_code == 200 and "Hot words" in english.content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = client.get("/jsi18n/")
    assert chinese.status_code == 200 and "Hot words" not in chinese.content.decode()


def test_a_jobs_step_and_counts_recorded_in_chinese_are_shown_in_english_to_an_english_user(client, org):
    """A background job records its step and count labels as the worker wrote them (the catalogue's Chinese
    msgids); its page shows them in the reader's language, and a label the catalogue lacks as it is."""
    from jianguan.core.jobs import job_submit

    user = create_user(unit=org.wendeng)
    job = job_submit("registry.import", "导入", {}, user=user)
    job.step, job.done, job.total = "重建索引", 3, 10
    job.counts = {"已校验行数": 12, "有问题的行": 0, "某个未翻译的标签": 1}
    job.save()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert "Rebuilding indexes" in english and "Rows validated" in english and "Rows with problems" in english
    assert "重建索引" not in english and "已校验行数" not in english and "某个未翻译的标签" in english
    listing = client.get("/staff/jobs/").content.decode()
    assert "Rebuilding indexes" in listing and "重建索引" not in listing
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]
    chinese = client.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert "重建索引" in chinese and "已校验行数" in chinese
