"""Every label the report shows, in Chinese (``zh``) and English (``en``).

Officials in Shenyang read Chinese; the words follow the standards' own terms (十五分钟社区生活圈,
区域性居家养老服务中心, 社区养老服务站). A label missing in one language is a bug (a test checks every key).

>>> label("headline", "zh"), label("headline", "en")
('概要', 'Headline')
>>> tier_label("station", "zh")
'社区养老服务站'
>>> column_label("share_plan:station:upgraded", "en")
'station, upgraded: share with the plan'
"""

from __future__ import annotations

from planner._errors import InputError

LANGS = ("zh", "en")

#: key -> (Chinese, English)
LABELS: dict[str, tuple[str, str]] = {
    # title and sections
    "title": ("养老服务设施布局规划报告", "Elderly-care facility planning report"),
    "subtitle": (
        "十五分钟社区生活圈：现状与规划对比",
        "15-minute community life circle: today and with the plan",
    ),
    "headline": ("概要", "Headline"),
    "maps": ("各层级服务覆盖图", "Coverage maps by tier"),
    "districts": ("分区（县）覆盖情况", "Coverage by district"),
    "subdistricts": ("分街道（乡镇）覆盖情况", "Coverage by sub-district"),
    "gaps": ("尚未覆盖老年人最多的社区", "Communities with the most older residents out of reach"),
    "curve": ("覆盖曲线：每增加一处设施的边际效益", "Coverage curve: the gain of each added site"),
    "sites_needed": ("达到目标覆盖率所需的最少设施数", "Fewest sites for each target share"),
    "equity": ("公平性", "Equity"),
    "equity_summary": ("区域间差异指标", "Inequality across areas"),
    "standards": ("国家标准核查", "Check against the national standards"),
    "standards_short": ("未达标准的社区（短缺最多者）", "Communities short of the standard (largest first)"),
    "standards_beds": (
        "养老床位核查（GB 50437-2007：每千名老年人不少于40张）",
        "Beds for older people (GB 50437-2007: at least 40 per 1,000 older residents)",
    ),
    "sensitivity": ("步行速度敏感性", "Walking-speed sensitivity"),
    "comparison": ("方案对比", "Comparison of two runs"),
    "sites_changed": ("设施增减", "Sites added, dropped and kept"),
    "solves": ("求解状态与最优性间隙", "Solver status and gap of every solve"),
    "sources": ("数据来源与替代数据说明", "Data sources and stand-ins"),
    "stand_in_banner": (
        "注意：本报告部分结果基于替代数据（非真实调查数据），仅供方法演示，不能作为决策依据：",
        "Note: parts of this report rest on STAND-IN data (not surveyed data); they show the method and must "
        "not be used for decisions:",
    ),
    "stand_in_short": ("含替代数据", "rests on stand-in data"),
    "no_stand_ins": ("所有输入均为真实数据。", "Every input is real data."),
    "run_folder": ("运行目录", "Run folder"),
    "other_run": ("对比运行", "Compared run"),
    "scenario": ("情景", "Scenario"),
    "walking_speed": ("步行速度", "Walking speed"),
    "older_total": ("老年人口（60岁及以上）", "Older residents (60+)"),
    "demand_points": ("需求点", "demand points"),
    "generated": ("生成时间", "Generated"),
    # services
    "service_new": ("{tier}（新建）", "{tier} (new sites)"),
    "service_basic": ("{tier}：基本服务（全部现有站点）", "{tier}: basic service (all existing sites)"),
    "service_upgraded": ("{tier}：提升服务（升级站点）", "{tier}: upgraded service (upgraded sites)"),
    "service_basic_note": (
        "基本服务按全部现有站点计算，升级不关闭任何站点，因此规划前后相同；提升服务只计升级后的站点。",
        "Basic service counts every existing site; upgrading closes none, so it is the same today and with "
        "the plan. Upgraded service counts only the upgraded sites.",
    ),
    "short_new": ("{tier}", "{tier}"),
    "short_basic": ("{tier}基本服务", "{tier}, basic"),
    "short_upgraded": ("{tier}提升服务", "{tier}, upgraded"),
    # column labels
    "service": ("服务", "Service"),
    "tier": ("层级", "Tier"),
    "threshold_min": ("步行时间阈值（分钟）", "Walk threshold (min)"),
    "walk_m": ("步行距离（米）", "Walk (m)"),
    "sites_today": ("现状设施数", "Sites today"),
    "sites_plan": ("规划设施数", "Sites with the plan"),
    "older_residents": ("老年人口", "Older residents"),
    "covered_today": ("现状覆盖人数", "Covered today"),
    "share_today": ("现状覆盖率", "Share today"),
    "covered_plan": ("规划覆盖人数", "Covered with the plan"),
    "share_plan": ("规划覆盖率", "Share with the plan"),
    "change_points": ("变化（百分点）", "Change (points)"),
    "district_name": ("区（县）", "District"),
    "street_name": ("街道（乡镇）", "Sub-district"),
    "community_name": ("社区（村）", "Community"),
    "uncovered_residents": ("未覆盖老年人", "Older residents out of reach"),
    "covered_share": ("覆盖率", "Covered share"),
    "share_of_uncovered": ("占全部未覆盖比例", "Share of all out of reach"),
    "p": ("设施数", "Sites"),
    "site": ("新增设施", "Added site"),
    "covered_weight": ("覆盖老年人", "Older residents covered"),
    "share": ("覆盖率", "Share"),
    "gain": ("边际增加人数", "Marginal gain"),
    "bound": ("上界", "Bound"),
    "target": ("目标覆盖率", "Target share"),
    "sites": ("所需设施数", "Sites needed"),
    "lower_bound": ("已证明下界", "Proven lower bound"),
    "status": ("状态", "Status"),
    "mean_walk_min": ("已覆盖者平均步行时间（分钟）", "Mean walk of those covered (min)"),
    "gap_to_city": ("与全市覆盖率之差", "Gap to the city share"),
    "level": ("统计单元", "Areas"),
    "areas": ("单元数", "Areas"),
    "gini": ("基尼系数", "Gini"),
    "palma": ("帕尔马比值", "Palma ratio"),
    "worst_off_decile": ("最差10%老年人的覆盖率", "Worst-off decile share"),
    "within_standard_share": ("标准步行距离内比例", "Share within the standard's walk"),
    "short_residents": ("标准距离外老年人", "Older residents beyond it"),
    "standard_walk_m": ("标准步行距离（米）", "Standard's walk (m)"),
    "standard": ("标准", "Standard"),
    "meets": ("是否达标", "Meets"),
    "beds": ("开放设施床位数", "Places at open sites"),
    "beds_needed": ("标准要求床位数", "Beds the standard asks for"),
    "beds_per_1000": ("每千名老年人床位数", "Beds per 1,000 older residents"),
    "exact": ("精确", "exact"),
    "at least": ("至少", "at least"),
    "yes": ("达标", "yes"),
    "true": ("是", "yes"),
    "false": ("否", "no"),
    "no": ("未达标", "no"),
    "model": ("模型", "Model"),
    "method": ("方法", "Method"),
    "objective": ("目标值", "Objective"),
    "gap": ("最优性间隙", "Gap"),
    "solve_s": ("求解时间（秒）", "Solve time (s)"),
    "solve": ("求解", "Solve"),
    "speed": ("步行速度", "Walking speed"),
    "speed_mps": ("步行速度（米/秒）", "Speed (m/s)"),
    "resolved": ("重新求解", "Re-solved"),
    "resolved_share": ("重新选址后覆盖率", "Share, sites chosen again"),
    "kept": ("保留", "kept"),
    "when": ("时点", "When"),
    "optimal": ("已证明最优", "optimal"),
    "time_limit": ("达到时间上限（见间隙）", "time limit (see the gap)"),
    "today": ("现状", "today"),
    "plan": ("规划", "with the plan"),
    "source": ("依据", "Source"),
    "input": ("输入", "Input"),
    "real": ("真实数据", "Real"),
    "what": ("说明", "What it is"),
    "origin": ("来源", "Origin"),
    "licence": ("许可", "Licence"),
    "added": ("新增", "added"),
    "dropped": ("删除", "dropped"),
    "change": ("变化", "Change"),
    "count": ("数量", "Count"),
    "site_ids": ("设施编号（前20个）", "Site ids (first 20)"),
    "this_run": ("本次", "this run"),
    "other": ("对比", "other run"),
    "total": ("合计", "total"),
    "all": ("全部", "all"),
    "district": ("区（县）", "districts"),
    "community": ("社区", "communities"),
    "beds_note": (
        "床位核查（GB 50437-2007：每千名老年人不少于40张床位）需要各设施床位数；本次运行未提供，未核查。",
        "Beds (GB 50437-2007: at least 40 beds per 1,000 older residents) need each site's beds; this run "
        "has none, so they are not checked.",
    ),
    "bound_note": (
        "“至少”表示标准距离长于本次运行测算的步行距离，所示比例为下界。",
        "'at least': the standard's walk is longer than the run measured, so the share shown is a lower "
        "bound.",
    ),
    "map_legend_covered": ("规划后步行可达", "within the walk with the plan"),
    "map_legend_uncovered": ("步行不可达", "out of reach"),
    "map_legend_sites": ("规划设施", "planned sites"),
    "map_caption": (
        "{service}：{minutes:g}分钟步行（{metres:,.0f}米）覆盖；方格颜色为格内老年人的覆盖比例。",
        "{service}: {minutes:g}-minute walk ({metres:,.0f} m); each square is coloured by the share of its "
        "older residents covered.",
    ),
    "map_zoom": (
        "右图：老年人最集中的中心城区放大。",
        "Right: the central area where most older residents live.",
    ),
    "km": ("公里", "km"),
    "curve_x": ("新增设施数", "sites added"),
    "curve_y": ("覆盖率", "share covered"),
    "plan_marker": ("规划：{p}处", "plan: {p} sites"),
    "headline_line": (
        "{service}：规划后{minutes:g}分钟步行范围内老年人{covered}（{share}）；{today}。",
        "{service}: {covered} older residents ({share}) within a {minutes:g}-minute walk with the plan; "
        "{today}.",
    ),
    "today_share": ("现状{share}", "today {share}"),
    "none_today": ("现状无此服务", "none today"),
    "share_both": ("现状及规划覆盖率", "Share today and with the plan"),
    "not_available": ("无", "n/a"),
    "sensitivity_note": (
        "在各步行速度下评价同一方案（“重新求解”表示在该速度下重新选址）。",
        "The same plan evaluated at each walking speed ('re-solved': sites chosen again at that speed).",
    ),
    "gaps_note": (
        "“未覆盖”指规划后不在任何服务（含现有站点的基本服务）步行范围内。",
        "Out of reach: within the walk of no service with the plan (the basic service of existing sites "
        "included).",
    ),
    "none_found": ("无。", "None."),
    "print_hint": ("打印：浏览器“打印”→“另存为PDF”。", "To print: the browser's Print, then Save as PDF."),
}

#: Known tier names in Chinese (the Shenyang plan's two services).
TIERS_ZH = {
    "centre": "区域性居家养老服务中心",
    "center": "区域性居家养老服务中心",
    "station": "社区养老服务站",
}

#: Speed preset names.
SPEEDS: dict[str, tuple[str, str]] = {
    "planning": ("规划标准（1.0米/秒）", "planning (1.0 m/s)"),
    "older_dry": ("老年人干燥路面（1.18米/秒）", "older adults, dry (1.18 m/s)"),
    "older_winter": ("老年人冬季冰面（1.08米/秒）", "older adults, winter ice (1.08 m/s)"),
    "older_at_risk": ("跌倒风险老年人（0.76米/秒）", "older adults at risk (0.76 m/s)"),
    "frail": ("体弱老年人（0.64米/秒）", "frail adults (0.64 m/s)"),
}


def check_lang(lang: str) -> str:
    """`lang` if it is ``"zh"`` or ``"en"``, else an `InputError` naming the choices."""
    if lang not in LANGS:
        raise InputError(f"`lang` must be one of {LANGS} (Chinese or English), got {lang!r}")
    return lang


def label(key: str, lang: str, **values) -> str:
    """The label `key` in `lang`, formatted with `values`; an unknown key is returned as it is."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    text = pair[LANGS.index(check_lang(lang))]
    return text.format(**values) if values else text


def tier_label(name: str, lang: str) -> str:
    """A tier's name for people: the Chinese term for known tiers, else the name as given."""
    return TIERS_ZH.get(name, name) if check_lang(lang) == "zh" else name


def speed_label(name: str, lang: str) -> str:
    """A walking-speed preset (or an m/s figure) for people."""
    pair = SPEEDS.get(name)
    if pair is None:
        return f"{name} m/s" if lang == "en" else f"{name}米/秒"
    return pair[LANGS.index(check_lang(lang))]


def service_label(service: str, lang: str) -> str:
    """``"<tier>:<kind>"`` (kind new, basic or upgraded) for people."""
    tier, _, kind = service.partition(":")
    return label(f"service_{kind or 'new'}", lang, tier=tier_label(tier, lang))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def column_label(column: str, lang: str) -> str:
    """A table header for people: ``"share_plan:station:upgraded"`` -> the service and the measure.

    A column is either a plain key of `LABELS` or ``"<measure>:<tier>:<kind>"``, optionally ending in
    ``"|other"`` or ``"|change"`` for the compared run and the difference.
    """
    base, _, suffix = column.partition("|")
    measure, _, service = base.partition(":")
    text = label(measure, lang)
    if service:
        tier, _, kind = service.partition(":")
        short = label(f"short_{kind or 'new'}", lang, tier=tier_label(tier, lang))
        text = f"{short}：{text}" if lang == "zh" else f"{short}: {text[0].lower()}{text[1:]}"
    if suffix:
        what = speed_label(suffix, lang) if suffix in SPEEDS or _is_number(suffix) else label(suffix, lang)
        text = f"{text}（{what}）" if lang == "zh" else f"{text} ({what})"
    return text
