"""Command line: ``python -m bot [chat|check|telegram|wechat|wecom|web|bench] ...``.

Each command lives in its own module and parses its own options; this is only the dispatcher,
so that ``python -m bot chat`` never imports the Telegram or WeChat stacks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

USAGE = """用法: python -m bot [命令] [选项]

命令:
  chat       终端对话(默认);--jsonl 按 JSON Lines 协议读写,--store PATH 保存对话状态
  check      校验 knowledge/ 与 dialogs/ 数据,列出全部问题
  telegram   运行 Telegram 机器人(需要 TELEGRAM_BOT_TOKEN)
  wechat     运行微信公众号回调服务(需要 WECHAT_TOKEN)
  wecom      运行企业微信智能机器人回调服务(需要 WECOM_TOKEN、WECOM_AES_KEY)
  web        运行网页对话服务(--listen HOST:PORT,--store PATH)
  bench      运行性能基准,打印各项指标与预算
"""


def _command(name: str) -> Callable[[list[str]], int] | None:
    if name == "chat":
        from bot.channels import terminal

        return terminal.main
    if name == "check":
        from bot import check

        return check.main
    if name == "telegram":
        from bot.channels import telegram

        return telegram.main
    if name == "wechat":
        from bot.channels import wechat

        return wechat.main
    if name == "wecom":
        from bot.channels import wecom

        return wecom.main
    if name == "web":
        from bot.channels import web

        return web.main
    if name == "bench":
        import bot.bench

        return bot.bench.main
    return None


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    name = "chat" if not args or args[0].startswith("-") else args.pop(0)
    command = _command(name)
    if command is None:
        print(f"未知命令 {name!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
