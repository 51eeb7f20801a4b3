"""Chinese name pools and code formats for the synthetic demo (all fake, all well-formed)."""

from __future__ import annotations

import random

import numpy as np
from numpy.typing import NDArray

# -- streets -------------------------------------------------------------------------------------

STREET_CHARS = "".join(
    dict.fromkeys(
        "文学教天莫延中解庆江滨古紫湖环凤秋建和平兴华丰新东西南北明光德胜利人民青春富钱塘望振星阳"
        "长安定海宁康乐泰昌盛福禄寿山河清水云松竹梅兰菊桂荷柳杨枫桃李金银玉龙虎鹤莲鸿"
    )
)
STREET_SUFFIXES = ("路", "路", "路", "街", "大道", "路", "巷")
ARTERIAL_SUFFIXES = ("大道", "路", "大街")


def street_names(rnd: random.Random, n: int, arterial: int) -> list[str]:
    """``n`` distinct street names; the first ``arterial`` ones end like main roads."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        stem = rnd.choice(STREET_CHARS) + rnd.choice(STREET_CHARS)
        if stem[0] == stem[1]:
            continue
        suffix = rnd.choice(ARTERIAL_SUFFIXES if len(out) < arterial else STREET_SUFFIXES)
        if len(seen) > 0.6 * 2 * len(STREET_CHARS) ** 2:
            suffix = rnd.choice(("东路", "西路", "南路", "北路", "一路", "二路", "三路")) + suffix[-1:]
        name = stem + suffix
        if name in seen:
            continue
        seen.add(name)
        out.append(name)
    return out


# -- buildings -----------------------------------------------------------------------------------

_PREFIX_TEXT = (
    "钱江 西溪 湖滨 武林 天堂 之江 运河 紫金 金沙 银泰 东方 国际 世纪 中天 华润 汇金 嘉里 新城 "
    "江南 万象 恒隆 明珠 浙商 星光 阳光 金色 水岸 翠苑 青山 绿城 锦绣 和平 春江 御景 名都 "
    "元华 同方 欧美 黄龙 庆春 凤起 潮鸣 望江 闻涛 东海 华元 金都 耀江 宝龙 龙湖 融创 滨江 "
    "远洋 环球 时代 未来 创新 智慧 鸿鹄 凯旋 广厦 中豪 万通 泰富 信诚 德信 嘉德 瑞丰"
)
PREFIXES = tuple(_PREFIX_TEXT.split(" "))
CN_NUM = "一二三四五六七八九十"
TOWER_SUFFIXES = ("国际大厦", "大厦", "中心", "商务中心", "金融中心", "广场", "科技大厦", "商务楼", "大楼")
MARKET_GOODS = (
    "服装",
    "丝绸",
    "小商品",
    "家居",
    "建材",
    "电子",
    "茶叶",
    "水产",
    "农副产品",
    "五金",
    "布料",
    "汽配",
    "鞋业",
    "家纺",
    "灯具",
)
MARKET_SUFFIXES = ("市场", "批发市场", "城", "交易中心", "商贸城")
PARK_SUFFIXES = ("科技园", "产业园", "工业园", "创业园", "软件园", "智造园", "物流园", "创意园")
CAMPUS_SUFFIXES = ("大学", "学院", "职业技术学院", "中学", "实验学校", "外国语学校")
HOSPITAL_SUFFIXES = ("人民医院", "中医院", "妇幼保健院", "第一医院", "口腔医院", "骨科医院", "儿童医院")
HOTEL_SUFFIXES = ("大酒店", "国际酒店", "宾馆", "饭店", "假日酒店", "商务酒店", "度假酒店")
GOV_SITES = (
    "行政中心",
    "人民政府",
    "政务服务中心",
    "公安分局",
    "人民法院",
    "人民检察院",
    "税务局",
    "机关大院",
)
RESIDENTIAL_SUFFIXES = ("花园", "小区", "公寓", "新村", "家园", "苑", "府", "雅苑")

CAMPUS_ROOMS = (
    "行政楼",
    "图书馆",
    "第一教学楼",
    "第二教学楼",
    "实验楼",
    "信息中心",
    "学生公寓",
    "后勤服务中心",
    "体育馆",
    "国际交流中心",
    "科研楼",
    "继续教育学院",
    "校医院",
    "大学生活动中心",
    "食堂",
)
HOSPITAL_ROOMS = (
    "门诊楼",
    "住院部",
    "急诊中心",
    "医技楼",
    "行政楼",
    "信息科",
    "体检中心",
    "药剂科",
    "康复中心",
    "后勤楼",
)
HOTEL_ROOMS = ("大堂", "商务中心", "会议中心", "餐饮部", "行政楼层", "康体中心", "客房部", "销售部")
GOV_DEPTS = (
    "区委办公室",
    "财政局",
    "税务局",
    "公安分局",
    "市场监督管理局",
    "人力资源和社会保障局",
    "住房和城乡建设局",
    "教育局",
    "卫生健康局",
    "民政局",
    "行政服务中心",
    "统计局",
    "司法局",
    "应急管理局",
)


def dedupe(names: list[str], variants: tuple[str, ...]) -> list[str]:
    """Make ``names`` unique by appending the first unused variant (then a number) to repeats."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate = name
        k = 0
        while candidate in seen:
            candidate = name + (variants[k] if k < len(variants) else f"{k + 2}号")
            k += 1
        seen.add(candidate)
        out.append(candidate)
    return out


# -- customers -----------------------------------------------------------------------------------

INDUSTRIES = (
    "政府机关",
    "金融",
    "教育",
    "医疗",
    "酒店",
    "批发零售",
    "制造业",
    "信息技术",
    "商务服务",
    "房地产",
    "餐饮",
    "生活服务",
    "物流",
    "物业管理",
)
ZIHAO_CHARS = "".join(
    dict.fromkeys(
        "恒瑞华信达诚泰祥和丰鑫源盛通安博创科联讯智远宏德新锦嘉凯隆海天宇明辉永康富贵顺利晟昊杰"
        "立峰正阳光启航美佳乐众合汇中金银振兴友谊春秋星月云山川江湖越吴青禾润泽雅致方圆品尚"
    )
)
BANKS = (
    ("中国工商银行", "支行", "分行"),
    ("中国建设银行", "支行", "分行"),
    ("中国农业银行", "支行", "分行"),
    ("中国银行", "支行", "分行"),
    ("交通银行", "支行", "分行"),
    ("招商银行", "支行", "分行"),
    ("浙商银行", "支行", "分行"),
    ("中信银行", "支行", "分行"),
    ("兴业银行", "支行", "分行"),
    ("平安银行", "支行", "分行"),
    ("中国人寿保险", "营销服务部", "分公司"),
    ("中国平安财产保险", "营销服务部", "分公司"),
    ("太平洋保险", "营销服务部", "分公司"),
    ("华泰证券", "营业部", "分公司"),
    ("浙商证券", "营业部", "分公司"),
)
COMPANY_WORDS: dict[str, tuple[str, ...]] = {
    "批发零售": ("商行", "经营部", "贸易有限公司", "批发部", "商贸有限公司", "百货店"),
    "餐饮": ("面馆", "餐厅", "小吃店", "火锅店", "茶餐厅", "咖啡馆", "餐饮管理有限公司"),
    "生活服务": ("便利店", "美容美发店", "洗衣店", "快递驿站", "照相馆", "眼镜店", "家政服务有限公司"),
    "信息技术": (
        "信息技术有限公司",
        "网络科技有限公司",
        "软件有限公司",
        "数据科技有限公司",
        "智能科技有限公司",
    ),
    "商务服务": (
        "企业管理咨询有限公司",
        "人力资源有限公司",
        "广告有限公司",
        "会展服务有限公司",
        "律师事务所",
    ),
    "房地产": ("房地产开发有限公司", "置业有限公司", "房产经纪有限公司"),
    "制造业": (
        "机械有限公司",
        "电子有限公司",
        "纺织有限公司",
        "化纤有限公司",
        "汽车零部件有限公司",
        "新材料有限公司",
    ),
    "物流": ("物流有限公司", "供应链管理有限公司", "货运代理有限公司"),
    "物业管理": ("物业管理有限公司", "物业服务有限公司"),
    "教育": ("幼儿园", "培训学校", "教育科技有限公司"),
    "医疗": ("大药房", "诊所", "口腔门诊部", "医疗器械有限公司"),
    "酒店": ("酒店管理有限公司", "宾馆"),
}
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅志建国文斌辉鹏飞宇浩晨欣"
    "怡婷雪琳佳慧颖晓峰海波俊凯"
)
PHONE_PREFIXES = np.array(
    [133, 135, 136, 137, 138, 139, 150, 151, 153, 158, 159, 177, 180, 185, 186, 189, 199], dtype=np.int64
)


def zihao(index: NDArray[np.int64], chars: int) -> list[str]:
    """Trade names (字号) of ``chars`` characters for distinct indexes (distinct in, distinct out)."""
    n = len(ZIHAO_CHARS)
    out = []
    for k in index.tolist():
        s = ""
        for _ in range(chars):
            s = ZIHAO_CHARS[k % n] + s
            k //= n
        out.append(s)
    return out


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` fake Chinese personal names (surname + one or two given characters)."""
    s = rng.integers(0, len(SURNAMES), n)
    g1 = rng.integers(0, len(GIVEN_CHARS), n)
    g2 = rng.integers(-len(GIVEN_CHARS) // 2, len(GIVEN_CHARS), n)  # negative: one-character name
    return [
        SURNAMES[a] + GIVEN_CHARS[b] + (GIVEN_CHARS[c] if c >= 0 else "")
        for a, b, c in zip(s.tolist(), g1.tolist(), g2.tolist(), strict=True)
    ]


def mobile_numbers(rng: np.random.Generator, n: int) -> NDArray[np.int64]:
    """``n`` well-formed, fake 11-digit mainland mobile numbers (as integers)."""
    prefix = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), n)]
    return prefix * 100_000_000 + rng.integers(0, 100_000_000, n)


# -- unified social credit codes (统一社会信用代码, GB 32100-2015) ----------------------------------

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


def _digits(values: NDArray[np.int64], width: int) -> NDArray[np.int64]:
    out = np.zeros((len(values), width), dtype=np.int64)
    v = values.astype(np.int64)
    for i in range(width - 1, -1, -1):
        out[:, i] = v % 10
        v = v // 10
    return out


def credit_codes(kind: NDArray[np.int64], admin: NDArray[np.int64], body: NDArray[np.int64]) -> list[str]:
    """Credit codes with valid check characters.

    ``kind`` is the two-digit registration-authority/type prefix (91 company, 11 organ, 12 public
    institution), ``admin`` the six-digit administrative division and ``body`` the eight-digit
    organisation-code body (its GB 11714 check character is computed).
    """
    n = len(body)
    digits = _digits(body, 8)
    org_check = 11 - (digits @ _ORG_WEIGHTS) % 11  # 10 → X, 11 → 0
    org_char = np.where(org_check == 11, 0, org_check)
    first17 = np.zeros((n, 17), dtype=np.int64)
    first17[:, 0:2] = _digits(kind, 2)
    first17[:, 2:8] = _digits(admin, 6)
    first17[:, 8:16] = digits
    first17[:, 16] = np.where(org_char == 10, _USCC_CHARS.index("X"), org_char)
    check = (31 - (first17 @ _USCC_WEIGHTS) % 31) % 31
    chars = np.array(list(_USCC_CHARS))
    full = np.column_stack([chars[first17], chars[check]])
    return ["".join(row) for row in full.tolist()]


def credit_code_valid(code: str) -> bool:
    """Tell whether ``code`` is an 18-character credit code with both check characters right."""
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return False
    vals = [_USCC_CHARS.index(c) for c in code]
    if (31 - sum(v * int(w) for v, w in zip(vals[:17], _USCC_WEIGHTS, strict=True)) % 31) % 31 != vals[17]:
        return False
    body = vals[8:16]
    if any(v > 9 for v in body):
        return True  # letters in the organisation code: not produced here, not checked further
    oc = 11 - sum(v * int(w) for v, w in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    expected = 0 if oc == 11 else (_USCC_CHARS.index("X") if oc == 10 else oc)
    return vals[16] == expected
