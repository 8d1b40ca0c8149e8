"""What a person answers to each slot in the channels' end-to-end dialogs (shared by the WeChat,
WeCom and web tests)."""

from __future__ import annotations

MAX_REPLIES = 10  # PROTOCOL.md: a case fails without a result after 10 replies
SLOT_ANSWERS = {
    "purpose": "积分",
    "credential": "中级会计",
    "level": "中级",
    "social_insurance": "最近四年里有40个月社保基数在1.3倍以上",
    "job_match": "对口",
    "stem_degree": "是理工类",
    "where_obtained": "在上海工作期间在上海考的",
    "at_firm": "是",
}
