"""What the Telegram channel itself says (the core words every other reply)."""

from __future__ import annotations

from telegram import BotCommand

# {days}: the retention period in force (BOT_RETENTION_DAYS, as the engine says it)
HELP = (
    "我是落户助手,只回答一个问题:你的证书能不能用于上海《居住证》积分,或者居转户(落户)。\n"
    "我依据 2023 年的三份目录和六条说明,只问规则需要的事实,并告诉你答案依据的目录条目和说明。\n"
    "\n"
    "直接发问就行,例如:\n"
    "· 中级会计能积分吗\n"
    "· 焊工技师能落户吗\n"
    "\n"
    "在群里请用「/ask 你的问题」、@我,或回复我的消息;每个人的对话互不影响。\n"
    "/reset 清空我们的对话,/cancel 放弃当前问题。\n"
    "我只保存对话中你告诉我的情况,闲置 {days} 天自动删除;发送 /forget 或「删除我的数据」立即删除。"
)
ONLY_TEXT = "我只看得懂文字消息。请用文字告诉我你的证书和用途,例如「中级会计能积分吗」。"
NOT_YOURS = "这个问题不是问你的。想问自己的情况,请发送 /ask 加上你的问题。"
STALE = "这个按钮已过期,请回答最新的问题。"
SORRY = "抱歉,我这边出了点问题,请稍后再试。"
EMPTY = "(没有内容)"
DETAILS = "详细"  # the button label, and what the core answers with the full last answer
PLACEHOLDER = "在这里回答"
COMMANDS = (
    BotCommand("start", "介绍与示例"),
    BotCommand("help", "使用说明与示例"),
    BotCommand("ask", "提问,例如 /ask 中级会计能积分吗"),
    BotCommand("reset", "清空我的对话"),
    BotCommand("cancel", "放弃当前问题"),
    BotCommand("forget", "删除我的全部数据"),
)
COMMAND_NAMES = frozenset(command.command for command in COMMANDS)
