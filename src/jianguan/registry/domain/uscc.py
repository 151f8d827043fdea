"""统一社会信用代码 (Unified Social Credit Code, USCC) — full structural validation.

Pure Python, no Django.  Builds on :mod:`stdnum.cn.uscc`, which only checks the
length, the character set of positions 9–18 and the final (position 18) check
character.  Note that ``stdnum.cn.uscc.validate`` also insists that positions
1–8 are digits and therefore *rejects* real codes whose registration authority
is ``A``, ``N`` or ``Y``; we only reuse its ``calc_check_digit``.

Structure (GB 32100-2015 §4):

====  ==========================================================  ===========
pos   part                                                        rule
====  ==========================================================  ===========
1     登记管理部门代码 registration authority                        table below
2     机构类别代码 entity type                                       table below
3–8   登记管理机关行政区划码 division of the registering authority     GB/T 2260
9–17  主体标识码（组织机构代码）organisation code                     GB 11714
18    校验码 check character                                        GB/T 17710
====  ==========================================================  ===========

Check-character algorithms
--------------------------
* Position 17 — GB 11714-1997 §2.1.2: ``C9 = 11 - MOD(Σ Ci×Wi, 11)`` with
  ``W = 3, 7, 9, 10, 5, 8, 4, 2``; digits keep their value, letters A=10 … Z=35;
  C9 = 10 is written ``X`` and C9 = 11 is written ``0``.
  (Text of the standard: https://zh.wikisource.org/wiki/GB_11714-1997_全国组织机构代码编制规则 )
  The 9-character segment is always a GB 11714 code — for enterprises, for
  个体工商户 (type 92) and for post-2015 "MA…"/"L…" bodies alike.  Checked
  empirically: all 383 real codes in python-stdnum's
  ``tests/test_cn_uscc.doctest`` (collected from creditchina.gov.cn and
  provincial credit portals: 130 enterprises, 252 个体工商户 ``92…MA…``, one
  事业单位) pass it.
* Position 18 — ISO 7064 MOD 31-3 over the 31-character alphabet, as
  implemented by ``stdnum.cn.uscc.calc_check_digit``.

Normalisation policy (decided here, tested in tests/registry/test_uscc.py)
-------------------------------------------------------------------------
* Leading/trailing whitespace is stripped (``str.strip``, which also removes the
  ideographic space U+3000) and ASCII lower-case letters are upper-cased.
  That is all that is silently changed; :func:`normalize_uscc` exposes it.
* Full-width characters (U+FF01–U+FF5E, e.g. ``９１``/``Ａ``) are **rejected**
  with problem code ``fullwidth`` naming the position, not silently converted:
  they usually come from a Chinese IME and the operator should see that the
  stored value would differ from what was typed.
* Whitespace or hyphens *inside* the code are rejected with ``separator``
  (stdnum's ``compact`` would silently drop them); the canonical form is 18
  contiguous characters.

Reporting
---------
:func:`validate_uscc` returns a list of :class:`UsccProblem` (empty = valid).
The structural checks run in order and only the first failing one is
reported (empty → fullwidth → separator → length → alphabet → authority →
entity_type → division_format).  When the structure is sound, the three
independent content checks (division_unknown, org_code_check, check_char) are
all reported together.

Known limitation: a few codes that registries actually issued fail the final
check (a CSDN post cites 91350211M0000XUF46, a Xiamen company); they are
reported as ``check_char`` problems — callers that import legacy data may want
to treat that code as a warning rather than a hard error.

Division ``100000``
-------------------
GB 32100 positions 3–8 identify the *registering authority's* division, and
national-level authorities (中央编办, 民政部, …) use ``100000`` ("国家用
100000"), which is not a GB/T 2260 code.  It is accepted without consulting
``division_exists``; e.g. 清华大学 is ``12100000400000624D``.

Registration-authority / entity-type table
------------------------------------------
GB 32100-2015 as amended by 第1号修改单 (GB 32100-2015/XG1-2016; the 2015
text itself only listed authorities 1, 5, 9 and Y).  The standard is sold, not
published, so the table was cross-checked against several independent
reproductions which agree entry for entry:
  * https://osuse.cn/post/10002590.html ("统一社会信用代码解析登记管理部门和机构类别")
  * npm package uscc-utils 0.7.0 (github.com/ntnyq/uscc-utils), ``USCC_CATEGORY_MAP``
  * Go/Python/TypeScript implementations on GitHub with the same 36 pairs.
Known but deliberately *not* accepted: some sites list 54 村民委员会 /
55 居民委员会 (民政 codes for 基层群众性自治组织特别法人, assigned from 2017) and
a few list "99". No primary source for those could be found, so they are
reported as ``entity_type`` problems; extend :data:`ENTITY_TYPE_NAMES` once a
source is in hand.
"""  # noqa: RUF002 -- the docstring deliberately shows full-width examples (U+FF01–U+FF5E)

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stdnum.cn import uscc as _stdnum_uscc

__all__ = [
    "ALPHABET",
    "AUTHORITY_NAMES",
    "AUTHORITY_NAMES_EN",
    "ENTITY_TYPE_NAMES",
    "ENTITY_TYPE_NAMES_EN",
    "FORBIDDEN_LETTERS",
    "NATIONAL_DIVISION",
    "UsccProblem",
    "describe_uscc",
    "is_valid_uscc",
    "make_uscc",
    "normalize_uscc",
    "org_code_check_char",
    "uscc_check_char",
    "validate_uscc",
]

#: The 31 characters a USCC may contain (GB 32100-2015 §4.1; no I, O, Z, S, V).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Upper-case letters GB 32100 excludes because they are easily confused.
FORBIDDEN_LETTERS = "IOZSV"
#: Positions 3–8 used by national-level registration authorities.
NATIONAL_DIVISION = "100000"

_LENGTH = 18
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714-1997 §2.1.2
_ORG_BODY_CHARS = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # GB 11714 附录A; value = index
)
_FULLWIDTH_RANGE = (0xFF01, 0xFF5E)
_HYPHENS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")

# 登记管理部门代码 (position 1). Source: see module docstring.
AUTHORITY_NAMES: dict[str, str] = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "工商/市场监管",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
    "Y": "其他",
}

AUTHORITY_NAMES_EN: dict[str, str] = {
    "1": "Institutional staffing (bianzhi)",
    "2": "Foreign affairs",
    "3": "Judicial administration",
    "4": "Culture",
    "5": "Civil affairs",
    "6": "Tourism",
    "7": "Religious affairs",
    "8": "Trade unions",
    "9": "Industry and commerce (market regulation)",
    "A": "CMC Office for Reform and Organizational Structure",
    "N": "Agriculture",
    "Y": "Other",
}

# (登记管理部门代码, 机构类别代码) → 机构类别名称 (positions 1–2).
# GB 32100-2015 + XG1-2016; source: see module docstring.
ENTITY_TYPE_NAMES: dict[tuple[str, str], str] = {
    ("1", "1"): "机关",
    ("1", "2"): "事业单位",
    ("1", "3"): "中央编办直接管理机构编制的群众团体",
    ("1", "9"): "其他",
    ("2", "1"): "外国常驻新闻机构",
    ("2", "9"): "其他",
    ("3", "1"): "律师执业机构",
    ("3", "2"): "公证处",
    ("3", "3"): "基层法律服务所",
    ("3", "4"): "司法鉴定机构",
    ("3", "5"): "仲裁委员会",
    ("3", "9"): "其他",
    ("4", "1"): "外国在华文化中心",
    ("4", "9"): "其他",
    ("5", "1"): "社会团体",
    ("5", "2"): "民办非企业单位",
    ("5", "3"): "基金会",
    ("5", "9"): "其他",
    ("6", "1"): "外国旅游部门常驻代表机构",
    ("6", "2"): "港澳台地区旅游部门常驻内地（大陆）代表机构",
    ("6", "9"): "其他",
    ("7", "1"): "宗教活动场所",
    ("7", "2"): "宗教院校",
    ("7", "9"): "其他",
    ("8", "1"): "基层工会",
    ("8", "9"): "其他",
    ("9", "1"): "企业",
    ("9", "2"): "个体工商户",
    ("9", "3"): "农民专业合作社",
    ("A", "1"): "军队事业单位",
    ("A", "9"): "其他",
    ("N", "1"): "组级集体经济组织",
    ("N", "2"): "村级集体经济组织",
    ("N", "3"): "乡镇级集体经济组织",
    ("N", "9"): "其他",
    ("Y", "1"): "其他",
}

ENTITY_TYPE_NAMES_EN: dict[tuple[str, str], str] = {
    ("1", "1"): "State organ",
    ("1", "2"): "Public institution",
    ("1", "3"): "Mass organisation under the central staffing office",
    ("1", "9"): "Other",
    ("2", "1"): "Resident foreign news agency",
    ("2", "9"): "Other",
    ("3", "1"): "Law firm",
    ("3", "2"): "Notary office",
    ("3", "3"): "Grassroots legal service office",
    ("3", "4"): "Forensic appraisal institution",
    ("3", "5"): "Arbitration commission",
    ("3", "9"): "Other",
    ("4", "1"): "Foreign cultural centre in China",
    ("4", "9"): "Other",
    ("5", "1"): "Social organisation",
    ("5", "2"): "Private non-enterprise unit",
    ("5", "3"): "Foundation",
    ("5", "9"): "Other",
    ("6", "1"): "Resident office of a foreign tourism authority",
    (
        "6",
        "2",
    ): "Resident mainland office of a Hong Kong/Macao/Taiwan tourism authority",
    ("6", "9"): "Other",
    ("7", "1"): "Venue for religious activities",
    ("7", "2"): "Religious college",
    ("7", "9"): "Other",
    ("8", "1"): "Grassroots trade union",
    ("8", "9"): "Other",
    ("9", "1"): "Enterprise",
    ("9", "2"): "Individual business (getihu)",
    ("9", "3"): "Farmers' specialised cooperative",
    ("A", "1"): "Military public institution",
    ("A", "9"): "Other",
    ("N", "1"): "Group-level collective economic organisation",
    ("N", "2"): "Village-level collective economic organisation",
    ("N", "3"): "Township-level collective economic organisation",
    ("N", "9"): "Other",
    ("Y", "1"): "Other",
}

_TYPES_BY_AUTHORITY: dict[str, tuple[str, ...]] = {}
for _authority, _type in ENTITY_TYPE_NAMES:
    _TYPES_BY_AUTHORITY.setdefault(_authority, ())
    _TYPES_BY_AUTHORITY[_authority] += (_type,)
del _authority, _type

assert set(_TYPES_BY_AUTHORITY) == set(AUTHORITY_NAMES) == set(AUTHORITY_NAMES_EN)
assert set(ENTITY_TYPE_NAMES) == set(ENTITY_TYPE_NAMES_EN)


@dataclass(frozen=True)
class UsccProblem:
    """One reason a USCC is invalid.

    ``code`` is a stable machine id: ``empty``, ``fullwidth``, ``separator``,
    ``length``, ``alphabet``, ``authority``, ``entity_type``,
    ``division_format``, ``division_unknown``, ``org_code_check``,
    ``check_char``.  ``message`` (Chinese) and ``message_en`` name the problem
    and the offending part.
    """

    code: str
    message: str
    message_en: str


# ---------------------------------------------------------------------------
# check characters


def org_code_check_char(body8: str) -> str:
    """GB 11714-1997 check character for an 8-character organisation-code body.

    ``body8`` is digits or upper-case Latin letters (A=10 … Z=35).  Returns
    ``'0'``–``'9'`` or ``'X'``.
    """
    if len(body8) != 8 or any(c not in _ORG_BODY_CHARS for c in body8):
        raise ValueError(
            f"organisation-code body must be 8 digits/upper-case letters: {body8!r}"
        )
    total = sum(_ORG_BODY_CHARS.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    if c9 == 10:
        return "X"
    if c9 == 11:
        return "0"
    return str(c9)


def uscc_check_char(first17: str) -> str:
    """GB 32100 (ISO 7064 MOD 31-3) check character for the first 17 characters."""
    if len(first17) != 17 or any(c not in ALPHABET for c in first17):
        raise ValueError(f"need 17 characters from {ALPHABET}: {first17!r}")
    return _stdnum_uscc.calc_check_digit(first17)


# ---------------------------------------------------------------------------
# validation


def normalize_uscc(code: str) -> str:
    """Strip surrounding whitespace and upper-case ASCII letters; nothing else."""
    return "".join(c.upper() if "a" <= c <= "z" else c for c in code.strip())


def _show(ch: str) -> str:
    """A character as it can be shown inside “…” in a message."""
    if ch.isspace() or not ch.isprintable():
        return f"U+{ord(ch):04X}"
    return ch


def _is_fullwidth(ch: str) -> bool:
    return _FULLWIDTH_RANGE[0] <= ord(ch) <= _FULLWIDTH_RANGE[1]


def _structural_problem(code: str) -> UsccProblem | None:
    """First failing structural check of a normalised code, or None."""
    if not code:
        return UsccProblem("empty", "统一社会信用代码为空", "The USCC is empty")

    fullwidth = [(i, c) for i, c in enumerate(code, 1) if _is_fullwidth(c)]
    if fullwidth:
        i, c = fullwidth[0]
        return UsccProblem(
            "fullwidth",
            f"第 {i} 位“{c}”是全角字符，请改用半角数字或字母输入"
            f"（共 {len(fullwidth)} 个全角字符，系统不会自动转换）",
            f"Character {i} “{c}” is full-width; re-enter it in half-width "
            f"({len(fullwidth)} full-width character(s); not converted automatically)",
        )

    separators = [(i, c) for i, c in enumerate(code, 1) if c.isspace() or c in _HYPHENS]
    if separators:
        i, c = separators[0]
        what, what_en = (
            ("空格", "a space") if c.isspace() else (f"连字符“{c}”", f"a hyphen “{c}”")
        )
        if c.isspace() and c != " ":
            what, what_en = f"空白字符 {_show(c)}", f"whitespace {_show(c)}"
        return UsccProblem(
            "separator",
            f"第 {i} 位是{what}，统一社会信用代码应为连续的 18 位字符，中间不能有分隔符",
            f"Character {i} is {what_en}; a USCC is 18 contiguous characters without separators",
        )

    if len(code) != _LENGTH:
        return UsccProblem(
            "length",
            f"长度为 {len(code)} 位，统一社会信用代码应为 18 位",
            f"Length is {len(code)}; a USCC has 18 characters",
        )

    bad = [(i, c) for i, c in enumerate(code, 1) if c not in ALPHABET]
    if bad:
        parts = "、".join(f"第 {i} 位“{_show(c)}”" for i, c in bad)
        parts_en = ", ".join(f"{i} “{_show(c)}”" for i, c in bad)
        if all(c in FORBIDDEN_LETTERS for _, c in bad):
            reason = "统一社会信用代码不使用字母 I、O、Z、S、V"
            reason_en = "the letters I, O, Z, S and V are not used in a USCC"
        else:
            reason = "只能使用数字和大写字母（不含 I、O、Z、S、V）"
            reason_en = (
                "only digits and upper-case letters except I, O, Z, S, V are allowed"
            )
        return UsccProblem(
            "alphabet",
            f"{parts}是无效字符：{reason}",
            f"Invalid character(s) at position {parts_en}: {reason_en}",
        )

    authority, entity_type = code[0], code[1]
    if authority not in AUTHORITY_NAMES:
        valid = "、".join(AUTHORITY_NAMES)
        return UsccProblem(
            "authority",
            f"第 1 位登记管理部门代码“{authority}”无效（有效值：{valid}）",
            f"Position 1: registration authority code “{authority}” is invalid "
            f"(valid: {', '.join(AUTHORITY_NAMES)})",
        )

    if (authority, entity_type) not in ENTITY_TYPE_NAMES:
        allowed = _TYPES_BY_AUTHORITY[authority]
        valid = "、".join(f"{t} {ENTITY_TYPE_NAMES[authority, t]}" for t in allowed)
        valid_en = ", ".join(
            f"{t} {ENTITY_TYPE_NAMES_EN[authority, t]}" for t in allowed
        )
        return UsccProblem(
            "entity_type",
            f"第 2 位机构类别代码“{entity_type}”对登记管理部门“{authority}”"
            f"（{AUTHORITY_NAMES[authority]}）无效（有效值：{valid}）",
            f"Position 2: entity type “{entity_type}” is invalid for registration authority "
            f"“{authority}” ({AUTHORITY_NAMES_EN[authority]}); valid: {valid_en}",
        )

    division = code[2:8]
    if not division.isdigit():  # letters from ALPHABET are possible here
        return UsccProblem(
            "division_format",
            f"第 3–8 位登记管理机关行政区划码“{division}”应为 6 位数字",
            f"Positions 3–8: division code “{division}” must be 6 digits",
        )
    return None


def validate_uscc(
    code: str, division_exists: Callable[[str], bool]
) -> list[UsccProblem]:
    """Validate a 统一社会信用代码; an empty list means it is valid.

    ``division_exists(six_digits)`` decides whether positions 3–8 name a real
    division; pass a lookup that also accepts historical codes, since a USCC
    keeps the division of its original registering authority for life.  It is
    not consulted for the national code ``100000``.
    """
    code = normalize_uscc(code)
    structural = _structural_problem(code)
    if structural is not None:
        return [structural]

    problems: list[UsccProblem] = []
    division = code[2:8]
    if division != NATIONAL_DIVISION and not division_exists(division):
        problems.append(
            UsccProblem(
                "division_unknown",
                f"第 3–8 位登记管理机关行政区划码“{division}”不存在（已含历史区划代码）",
                f"Positions 3–8: division code “{division}” does not exist "
                "(historical codes included)",
            )
        )

    org_code = code[8:17]
    expected_org = org_code_check_char(org_code[:8])
    if org_code[8] != expected_org:
        problems.append(
            UsccProblem(
                "org_code_check",
                f"第 9–17 位主体标识码（组织机构代码）“{org_code}”校验错误："
                f"第 17 位应为“{expected_org}”，实际为“{org_code[8]}”",
                f"Positions 9–17: organisation code “{org_code}” fails its GB 11714 check: "
                f"position 17 should be “{expected_org}”, not “{org_code[8]}”",
            )
        )

    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        problems.append(
            UsccProblem(
                "check_char",
                f"第 18 位校验码“{code[17]}”错误，应为“{expected}”",
                f"Position 18: check character “{code[17]}” is wrong; it should be “{expected}”",
            )
        )
    return problems


def is_valid_uscc(code: str, division_exists: Callable[[str], bool]) -> bool:
    """True if :func:`validate_uscc` finds no problem."""
    return not validate_uscc(code, division_exists)


# ---------------------------------------------------------------------------
# construction and description


def make_uscc(authority: str, entity_type: str, division: str, org_body: str) -> str:
    """Build a valid USCC, computing both check characters.

    ``org_body`` is the 8-character organisation-code body (positions 9–16),
    drawn from :data:`ALPHABET`.  ``division`` must be 6 digits; whether it
    exists is the caller's business.  Raises ``ValueError`` on bad parts.
    """
    if (authority, entity_type) not in ENTITY_TYPE_NAMES:
        raise ValueError(f"invalid authority/entity type: {authority!r}{entity_type!r}")
    if len(division) != 6 or not (division.isascii() and division.isdigit()):
        raise ValueError(f"division must be 6 digits: {division!r}")
    if len(org_body) != 8 or any(c not in ALPHABET for c in org_body):
        raise ValueError(
            f"organisation-code body must be 8 characters from {ALPHABET}: {org_body!r}"
        )
    first17 = (
        authority + entity_type + division + org_body + org_code_check_char(org_body)
    )
    return first17 + uscc_check_char(first17)


def describe_uscc(code: str) -> dict[str, str | bool | None]:
    """Split a USCC into its parts and name them.

    Does not validate (use :func:`validate_uscc`); unknown authorities/types
    give ``None`` names.  Raises ``ValueError`` unless the normalised code is
    18 characters long.
    """
    code = normalize_uscc(code)
    if len(code) != _LENGTH:
        raise ValueError(f"a USCC has 18 characters, got {len(code)}")
    authority, entity_type = code[0], code[1]
    org_code = code[8:17]
    return {
        "code": code,
        "authority": authority,
        "authority_name": AUTHORITY_NAMES.get(authority),
        "authority_name_en": AUTHORITY_NAMES_EN.get(authority),
        "entity_type": entity_type,
        "entity_type_name": ENTITY_TYPE_NAMES.get((authority, entity_type)),
        "entity_type_name_en": ENTITY_TYPE_NAMES_EN.get((authority, entity_type)),
        "division": code[2:8],
        "is_national_division": code[2:8] == NATIONAL_DIVISION,
        "org_code": org_code,
        "org_code_display": f"{org_code[:8]}-{org_code[8]}",
        "check_char": code[17],
    }
