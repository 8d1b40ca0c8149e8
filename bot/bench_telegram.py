"""The Telegram part of ``python -m bot bench``: the production application in its own process,
fed updates by the tests' fake Bot API over loopback, its CPU time per update measured from
/proc beside the floor of one bare sendMessage round trip."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FAKE_TELEGRAM = ROOT / "tests" / "channels" / "fake_telegram.py"


def load_fake() -> tuple[ModuleType, ModuleType] | str:
    """The fake Bot API and its object builders (the channel loads), or why they cannot be used."""
    if not FAKE_TELEGRAM.exists() or not (ROOT / "bot" / "channels" / "telegram").is_dir():
        return "not measured (telegram channel missing)"
    try:
        from bot.channels import telegram  # noqa: F401  (it must load)

        sys.path.insert(0, str(ROOT / "tests"))  # the fake is part of the package tests.channels
        try:
            fake = importlib.import_module("channels.fake_telegram")
            objects = importlib.import_module("channels.telegram_objects")
        finally:
            sys.path.remove(str(ROOT / "tests"))
    except Exception as exc:  # a channel being written may not import yet: report, go on
        return f"not measured (telegram channel does not load: {type(exc).__name__}: {exc})"
    return fake, objects


# The production application in its own process, as in production (Telegram is remote):
# build_application with its standard transport (PTB's HTTPXRequest) and the inbox, Telegram's
# overall 30 messages/s pacing switched off (a rate, not a cost), long polling the fake.
TELEGRAM_BOT = """\
import asyncio, os
from bot.channels import telegram as tg
settings = tg.Settings.from_env(os.environ)
asyncio.run(tg.serve(tg.build_application(settings, pace=False), settings))
"""
# Floor: the same HTTP client posting one bare sendMessage per update to the same fake.
TELEGRAM_FLOOR = """\
import sys, time, httpx
url, n = sys.argv[1], int(sys.argv[2])
with httpx.Client() as client:
    client.post(url, data={"chat_id": 1, "text": "warm"})
    started = time.process_time_ns()
    for i in range(n):
        client.post(url, data={"chat_id": 1 + i, "text": "好"})
    print(time.process_time_ns() - started)
"""


def _cpu_ns(pid: int) -> int:
    """CPU time (user + system) used so far by process ``pid`` (Linux /proc), in ns."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


async def measure(fake: ModuleType, objects: ModuleType, stream: Sequence[Any],
                  store: Path, repeats: int) -> tuple[list[int], list[int], list[int]]:
    """Per batch of updates: (bot CPU ns, wall ns end to end); CPU ns of bare sendMessage calls."""
    people = {key: i for i, key in enumerate(dict.fromkeys((m.chat, m.user) for m in stream))}
    cpu: list[int] = []
    walls: list[int] = []
    with fake.FakeBotApi() as api:
        url = f"{api.base_url}{fake.TOKEN}/sendMessage"
        floors = [int(subprocess.run(
            [sys.executable, "-c", TELEGRAM_FLOOR, url, str(len(stream))], check=True,
            capture_output=True, text=True).stdout) for _ in range(3)]
        env = dict(os.environ, TELEGRAM_BOT_TOKEN=fake.TOKEN, TELEGRAM_BASE_URL=api.base_url,
                   BOT_STORE=str(store), TELEGRAM_POLL_TIMEOUT="1")
        proc = subprocess.Popen([sys.executable, "-c", TELEGRAM_BOT], cwd=ROOT, env=env,
                                stderr=subprocess.DEVNULL)
        try:
            await api.wait_for(lambda a: a.calls("getUpdates"), 30, "the bot to poll")
            for batch in range(repeats + 1):  # the first one warms up
                base = 1_000_000 * (batch + 1)
                sent = len(api.sent())
                used, started = _cpu_ns(proc.pid), time.perf_counter_ns()
                for message in stream:
                    user = objects.person(base + people[message.chat, message.user], "用户")
                    api.say(objects.private_chat(user), user, message.text)
                await api.wait_sent(sent + len(stream), timeout=60)
                if batch:
                    walls.append(time.perf_counter_ns() - started)
                    cpu.append(_cpu_ns(proc.pid) - used)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return cpu, walls, floors
