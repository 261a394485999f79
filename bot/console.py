"""The local console chat: the same core as Slack, in a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.core import Core

WELCOME = """\
Ketenbot — console
Stel een vraag over ketensturing (Nederlands of Engels). Ketenbot citeert de NORA-handreiking
'Implementatie van ketensturing' letterlijk, met paragraaf en link.
Typ 'help' voor uitleg, 'stop' om te stoppen.
"""
HELP = """\
- Stel een vraag in gewone woorden, bijvoorbeeld: 'Hoe bouwen we vertrouwen op tussen de partners?'
  of in het Engels: 'What should the board do when something goes wrong?'
- Regels die met 'Ketenbot:' beginnen zijn de woorden van de bot; tekst tussen „ ” is letterlijk
  geciteerd uit de handreiking.
- 'stop' (of Ctrl-D) sluit de console af.
"""
STOP_WORDS = {"stop", "exit", "quit", "/stop", "/exit", "/quit", "doei"}


def chat(core: Core, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    interactive = stdin.isatty()
    stdout.write(WELCOME + "\n")
    while True:
        if interactive:
            stdout.write("vraag> ")
            stdout.flush()
        line = stdin.readline()
        if not line:  # end of input
            stdout.write("\nTot ziens.\n")
            return 0
        text = line.strip()
        if not text:
            continue
        if text.lower() in STOP_WORDS:
            stdout.write("Tot ziens.\n")
            return 0
        if text.lower() in {"help", "/help", "?"}:
            stdout.write(HELP + "\n")
            continue
        stdout.write(core.answerer.answer(text).as_text() + "\n\n")
        stdout.flush()
